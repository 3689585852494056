@file:JvmName("AuthErrors")

package dev.hivesync.sdk

import com.connectrpc.ConnectException

// Typed sign-in errors. The OAuth endpoints answer RFC 6749 §5.2 JSON errors
// ({"error": "access_denied", "error_description": "..."}); the SDK maps the
// `error` code to an exception class, so callers branch on types, never on
// strings. `error_description` is for logs only.

/** The base class of every sign-in and session error of this SDK. */
public open class HiveSyncAuthException(message: String?, cause: Throwable? = null) : Exception(message, cause)

/**
 * An RFC 6749 error answered by an OAuth endpoint (token, device authorization,
 * revocation). The codes a client acts on have their own subclasses:
 * [AuthorizationDeniedException], [DeviceCodeExpiredException] and
 * [InvalidGrantException]; others (`invalid_client`, `invalid_scope`,
 * `unauthorized_client`, `server_error`, …) arrive as this class with [error] set.
 */
public open class OAuthException(
    /** The RFC 6749 / RFC 8628 error code, e.g. `invalid_scope`. */
    public val error: String,
    /** The server's `error_description`, for logs; `null` when it sent none. */
    public val errorDescription: String?,
    /** The HTTP status of the answer, or 0 when the SDK raised the error itself. */
    public val httpStatus: Int,
    cause: Throwable? = null,
) : HiveSyncAuthException(if (errorDescription.isNullOrBlank()) error else "$error: $errorDescription", cause) {
    public companion object {
        /** The user refused the sign-in (on the phone). */
        public const val ACCESS_DENIED: String = "access_denied"

        /** The device code lapsed before it was approved (RFC 8628 §3.5). */
        public const val EXPIRED_TOKEN: String = "expired_token"

        /** A code or refresh token is invalid, expired, revoked or already used. */
        public const val INVALID_GRANT: String = "invalid_grant"

        /** Device flow: not approved yet, poll again (handled by the SDK). */
        public const val AUTHORIZATION_PENDING: String = "authorization_pending"

        /** Device flow: polling too fast, add 5 s to the interval (handled by the SDK). */
        public const val SLOW_DOWN: String = "slow_down"

        /** The client id is not registered (or may not use this endpoint). */
        public const val INVALID_CLIENT: String = "invalid_client"

        /** A requested scope is unknown or not allowed for the client. */
        public const val INVALID_SCOPE: String = "invalid_scope"

        /**
         * The exception for an error answer: the typed subclass for the codes that
         * have one, otherwise an [OAuthException].
         */
        @JvmStatic
        public fun of(error: String, errorDescription: String?, httpStatus: Int): OAuthException = when (error) {
            ACCESS_DENIED -> AuthorizationDeniedException(errorDescription, httpStatus)
            EXPIRED_TOKEN -> DeviceCodeExpiredException(errorDescription, httpStatus)
            INVALID_GRANT -> InvalidGrantException(errorDescription, httpStatus)
            else -> OAuthException(error, errorDescription, httpStatus)
        }
    }
}

/** `access_denied`: the user refused the sign-in on the phone. Start again only if the user asks. */
public class AuthorizationDeniedException(errorDescription: String?, httpStatus: Int) :
    OAuthException(ACCESS_DENIED, errorDescription, httpStatus)

/**
 * `expired_token`: the device code lapsed before anyone approved it. Also raised
 * by the SDK itself ([httpStatus] 0) when the code's `expires_in` has passed.
 * Start a new sign-in.
 */
public class DeviceCodeExpiredException(errorDescription: String?, httpStatus: Int, cause: Throwable? = null) :
    OAuthException(EXPIRED_TOKEN, errorDescription, httpStatus, cause)

/**
 * `invalid_grant`: the refresh token (or device code) is invalid, expired,
 * revoked or already used. A rotated refresh token used twice makes the server
 * revoke the whole session. [AuthSession] turns this into [SignedOutException].
 */
public class InvalidGrantException(errorDescription: String?, httpStatus: Int) :
    OAuthException(INVALID_GRANT, errorDescription, httpStatus)

/** Why an [AuthSession] holds no tokens. */
public enum class SignOutReason {
    /** Nobody has signed in (or the store was empty when the session started). */
    NOT_SIGNED_IN,

    /** [AuthSession.signOut] was called. */
    SIGNED_OUT,

    /**
     * The server ended the session: the refresh answered `invalid_grant` (revoked on
     * another device, refresh token reused or expired, account disabled). The store
     * was cleared; ask the user to sign in again.
     */
    SESSION_ENDED,
}

/**
 * The session has no usable tokens: show the sign-in prompt. Raised by
 * [AuthSession] and carried (as the cause, with code `unauthenticated`) by the
 * failure of an RPC made through a client whose token provider is the session;
 * read it there with [ConnectException.signedOut].
 */
public class SignedOutException(
    /** Why there are no tokens. */
    public val reason: SignOutReason,
    message: String = defaultMessage(reason),
    cause: Throwable? = null,
) : HiveSyncAuthException(message, cause) {
    private companion object {
        fun defaultMessage(reason: SignOutReason): String = when (reason) {
            SignOutReason.NOT_SIGNED_IN -> "not signed in to HiveSync"
            SignOutReason.SIGNED_OUT -> "signed out of HiveSync"
            SignOutReason.SESSION_ENDED -> "the HiveSync session ended; sign in again"
        }
    }
}

/**
 * The [SignedOutException] behind this RPC failure, or `null` when the failure
 * has another cause. Non-null means the session is gone and the store is empty:
 * prompt the user to sign in again.
 */
public val ConnectException.signedOut: SignedOutException?
    get() {
        var t: Throwable? = this
        val seen = HashSet<Throwable>()
        while (t != null && seen.add(t)) {
            if (t is SignedOutException) return t
            t = if (t is ConnectException) t.exception ?: t.cause else t.cause
        }
        return null
    }
