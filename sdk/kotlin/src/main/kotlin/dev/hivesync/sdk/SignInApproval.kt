@file:JvmName("SignInApproval")

package dev.hivesync.sdk

import com.connectrpc.getOrThrow
import dev.hivesync.sdk.v1.ApproveDeviceCodeResponse
import dev.hivesync.sdk.v1.DescribeDeviceCodeResponse
import dev.hivesync.sdk.v1.approveDeviceCodeRequest
import dev.hivesync.sdk.v1.describeDeviceCodeRequest

// The phone's side of a device sign-in. The mobile app is the identity source:
// a desktop, plugin or CLI shows a user code, and the phone (a client of the
// "mobile" client id, with scope `user`) approves or denies it. These helpers
// call AuthService on a HiveSyncClient whose token provider holds the phone's
// token. Failures throw com.connectrpc.ConnectException: `not_found` for an
// unknown, expired or already decided code, `permission_denied` when the
// caller is not the mobile app or may not grant what the client asks for.

/**
 * What the pending sign-in with [userCode] asks for (client id, client type,
 * scopes, expiry), to show before approving. Case, spaces and dashes in the code
 * are ignored.
 */
public suspend fun HiveSyncClient.describeSignIn(userCode: String): DescribeDeviceCodeResponse =
    auth.describeDeviceCode(describeDeviceCodeRequest { this.userCode = userCode }).getOrThrow()

/**
 * Approves the pending sign-in with [userCode]: the client polling for it is
 * signed in as this phone's user. Returns the approved client's id.
 */
public suspend fun HiveSyncClient.approveSignIn(userCode: String): ApproveDeviceCodeResponse =
    decideSignIn(userCode, approve = true)

/** Denies the pending sign-in with [userCode]: its poller gets [AuthorizationDeniedException]. */
public suspend fun HiveSyncClient.denySignIn(userCode: String): ApproveDeviceCodeResponse =
    decideSignIn(userCode, approve = false)

/** Approves ([approve] `true`) or denies the pending sign-in with [userCode]. */
public suspend fun HiveSyncClient.decideSignIn(userCode: String, approve: Boolean): ApproveDeviceCodeResponse =
    auth.approveDeviceCode(
        approveDeviceCodeRequest {
            this.userCode = userCode
            this.approve = approve
        },
    ).getOrThrow()
