package dev.hivesync.sdk

import com.connectrpc.BidirectionalStreamInterface
import com.connectrpc.ClientOnlyStreamInterface
import com.connectrpc.Code
import com.connectrpc.ConnectException
import com.connectrpc.Headers
import com.connectrpc.MethodSpec
import com.connectrpc.ProtocolClientInterface
import com.connectrpc.ResponseMessage
import com.connectrpc.ServerOnlyStreamInterface
import com.connectrpc.UnaryBlockingCall
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.ExecutionException
import java.util.concurrent.atomic.AtomicBoolean

/**
 * A [TokenProvider] that can also refresh: [HiveSyncClient] asks it for a fresh
 * token before each call (suspending, off the caller's thread), and once more
 * after a call is answered `unauthenticated`, then retries that call once.
 * [AuthSession] implements it; implement it yourself only to manage tokens
 * another way.
 */
public interface RefreshingTokenProvider : TokenProvider {
    /**
     * A token that is not about to expire, refreshing first when needed.
     *
     * @throws SignedOutException when there is no session; calls to methods that
     *   need a token then fail with code `unauthenticated` and this cause, and
     *   public methods are sent without a token.
     */
    public suspend fun freshToken(): String

    /**
     * The server answered `unauthenticated` to a call sent with [rejectedToken]:
     * returns the token to retry with (refreshing unless that already happened).
     *
     * @throws SignedOutException when the session has ended; the call fails with it.
     */
    public suspend fun refreshAfterUnauthenticated(rejectedToken: String): String
}

/**
 * Wraps the Connect transport for a [RefreshingTokenProvider]: a fresh token on
 * every call, one refresh + one retry for a unary call answered
 * `unauthenticated`, and typed [SignedOutException] failures. Calls that set
 * their own `Authorization` header pass through untouched.
 */
internal class AuthenticatingProtocolClient(
    private val inner: ProtocolClientInterface,
    private val provider: RefreshingTokenProvider,
) : ProtocolClientInterface {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO + CoroutineName("hivesync-rpc"))
    private val publicByPath = ConcurrentHashMap<String, Boolean>()

    override suspend fun <Input : Any, Output : Any> unary(
        request: Input,
        headers: Headers,
        methodSpec: MethodSpec<Input, Output>,
    ): ResponseMessage<Output> {
        if (headers.hasAuthorization()) return inner.unary(request, headers, methodSpec)
        val token = when (val t = obtainToken(methodSpec)) {
            is Obtained.Token -> t.value
            Obtained.None -> null
            is Obtained.Failed -> return failure(t.error)
        }
        val first = inner.unary(request, headers.withBearer(token), methodSpec)
        if (token == null || first !is ResponseMessage.Failure || first.cause.code != Code.UNAUTHENTICATED) return first
        val retryToken = try {
            provider.refreshAfterUnauthenticated(token)
        } catch (e: CancellationException) {
            throw e
        } catch (e: SignedOutException) {
            return failure(signedOutFailure(e))
        } catch (_: Exception) {
            return first // the refresh failed for another reason: report what the server said
        }
        return inner.unary(request, headers.withBearer(retryToken), methodSpec)
    }

    override fun <Input : Any, Output : Any> unary(
        request: Input,
        headers: Headers,
        methodSpec: MethodSpec<Input, Output>,
        onResult: (ResponseMessage<Output>) -> Unit,
    ): () -> Unit {
        // onResult is called exactly once, also when the call is cancelled before it starts.
        val delivered = AtomicBoolean(false)
        val deliver = { result: ResponseMessage<Output> -> if (delivered.compareAndSet(false, true)) onResult(result) }
        val job = scope.launch {
            deliver(
                try {
                    unary(request, headers, methodSpec)
                } catch (e: CancellationException) {
                    throw e
                } catch (e: Exception) {
                    failure(ConnectException(Code.UNKNOWN, e.message, e))
                },
            )
        }
        job.invokeOnCompletion { cause ->
            if (cause != null) deliver(failure(ConnectException(Code.CANCELED, "call canceled", cause)))
        }
        return { job.cancel() }
    }

    override fun <Input : Any, Output : Any> unaryBlocking(
        request: Input,
        headers: Headers,
        methodSpec: MethodSpec<Input, Output>,
    ): UnaryBlockingCall<Output> = object : UnaryBlockingCall<Output> {
        @Volatile
        private var cancelCall: (() -> Unit)? = null

        @Volatile
        private var cancelled = false

        override fun execute(): ResponseMessage<Output> {
            val done = CompletableFuture<ResponseMessage<Output>>()
            val cancel = unary(request, headers, methodSpec) { done.complete(it) }
            cancelCall = cancel
            if (cancelled) cancel()
            try {
                return done.get()
            } catch (e: InterruptedException) {
                cancel()
                throw e
            } catch (e: ExecutionException) {
                throw e.cause ?: e
            }
        }

        override fun cancel() {
            cancelled = true
            cancelCall?.invoke()
        }
    }

    // Streams get a fresh token but no retry: their errors arrive mid-stream.
    override suspend fun <Input : Any, Output : Any> stream(
        headers: Headers,
        methodSpec: MethodSpec<Input, Output>,
    ): BidirectionalStreamInterface<Input, Output> = inner.stream(streamHeaders(headers, methodSpec), methodSpec)

    override suspend fun <Input : Any, Output : Any> serverStream(
        headers: Headers,
        methodSpec: MethodSpec<Input, Output>,
    ): ServerOnlyStreamInterface<Input, Output> = inner.serverStream(streamHeaders(headers, methodSpec), methodSpec)

    override suspend fun <Input : Any, Output : Any> clientStream(
        headers: Headers,
        methodSpec: MethodSpec<Input, Output>,
    ): ClientOnlyStreamInterface<Input, Output> = inner.clientStream(streamHeaders(headers, methodSpec), methodSpec)

    private suspend fun streamHeaders(headers: Headers, methodSpec: MethodSpec<*, *>): Headers {
        if (headers.hasAuthorization()) return headers
        return when (val t = obtainToken(methodSpec)) {
            is Obtained.Token -> headers.withBearer(t.value)
            else -> headers // the server answers unauthenticated in the stream
        }
    }

    private sealed class Obtained {
        class Token(val value: String) : Obtained()
        object None : Obtained()
        class Failed(val error: ConnectException) : Obtained()
    }

    /** The token for a call; public methods go without one when there is none. */
    private suspend fun obtainToken(methodSpec: MethodSpec<*, *>): Obtained = try {
        Obtained.Token(provider.freshToken())
    } catch (e: CancellationException) {
        throw e
    } catch (e: SignedOutException) {
        if (isPublic(methodSpec)) Obtained.None else Obtained.Failed(signedOutFailure(e))
    } catch (e: Exception) {
        if (isPublic(methodSpec)) {
            Obtained.None
        } else {
            Obtained.Failed(ConnectException(Code.UNAVAILABLE, "could not refresh the access token: ${e.message}", e))
        }
    }

    private fun isPublic(methodSpec: MethodSpec<*, *>): Boolean = publicByPath.getOrPut(methodSpec.path) {
        runCatching { accessRule(methodSpec)?.public == true }.getOrDefault(false)
    }

    private fun signedOutFailure(e: SignedOutException) = ConnectException(Code.UNAUTHENTICATED, e.message, e)

    private fun <T> failure(e: ConnectException): ResponseMessage<T> = ResponseMessage.Failure(e, emptyMap(), emptyMap())

    private fun Headers.hasAuthorization(): Boolean = keys.any { it.equals(AUTHORIZATION, ignoreCase = true) }

    private fun Headers.withBearer(token: String?): Headers =
        if (token.isNullOrBlank()) this else LinkedHashMap(this).apply { put(AUTHORIZATION, listOf("Bearer $token")) }

    private companion object {
        const val AUTHORIZATION = "Authorization"
    }
}
