@file:JvmName("AccessRules")

package dev.hivesync.sdk

import com.connectrpc.MethodSpec
import com.google.protobuf.Descriptors.MethodDescriptor
import dev.hivesync.sdk.v1.Access
import dev.hivesync.sdk.v1.AccessRule
import dev.hivesync.sdk.v1.HiveSyncDescriptors
import dev.hivesync.sdk.v1.Tier

// Access rules come from the contract: every RPC carries the
// `(hivesync.v1.access)` method option, and protobuf-java keeps custom options
// in the generated descriptors. A client reads the rule before calling, e.g. to
// show the upgrade intercept instead of making a call that will be denied.

/**
 * Every RPC of the contract, in file and declaration order.
 */
public val hiveSyncMethods: List<MethodDescriptor> by lazy {
    HiveSyncDescriptors.files.flatMap { file -> file.services.flatMap { it.methods } }
}

/**
 * The access rule of [method], or `null` when the method declares none (the
 * server's tests reject such methods, so `null` means a foreign method).
 */
public fun accessRule(method: MethodDescriptor): AccessRule? {
    val options = method.options
    return if (options.hasExtension(Access.access)) options.getExtension(Access.access) else null
}

/**
 * The access rule of the RPC named [method]: a Connect procedure path
 * (`hivesync.v1.MetaService/GetCompatibility`, a leading `/` is allowed) or a
 * full method name (`hivesync.v1.MetaService.GetCompatibility`).
 *
 * @throws IllegalArgumentException when the contract has no such method.
 */
public fun accessRule(method: String): AccessRule? = accessRule(findMethod(method))

/** The access rule of the method a generated client calls with [spec]. */
public fun accessRule(spec: MethodSpec<*, *>): AccessRule? = accessRule(spec.path)

/**
 * Finds the descriptor of the RPC named [method] (see [accessRule] for the
 * accepted spellings).
 *
 * @throws IllegalArgumentException when the contract has no such method.
 */
public fun findMethod(method: String): MethodDescriptor {
    val name = method.trim().removePrefix("/")
    val slash = name.lastIndexOf('/')
    val dot = name.lastIndexOf('.')
    val cut = if (slash >= 0) slash else dot
    require(cut > 0) { "not a method name: '$method'" }
    val service = name.substring(0, cut)
    val rpc = name.substring(cut + 1)
    return HiveSyncDescriptors.files.asSequence()
        .mapNotNull { file -> file.services.firstOrNull { it.fullName == service } }
        .mapNotNull { it.findMethodByName(rpc) }
        .firstOrNull()
        ?: throw IllegalArgumentException("unknown HiveSync method '$method'")
}

/**
 * Whether a caller on [tier] passes this rule's tier gate. A rule without
 * [AccessRule.getMinTier] admits every tier; `TIER_TRIAL` satisfies `TIER_PRO`
 * (the server decides when a trial ends). Scopes and client types are checked
 * by the server and are not considered here.
 */
public fun AccessRule.allowsTier(tier: Tier): Boolean = when (minTier) {
    Tier.TIER_UNSPECIFIED, Tier.UNRECOGNIZED, null -> true
    Tier.TIER_FREE -> tier != Tier.TIER_UNSPECIFIED && tier != Tier.UNRECOGNIZED
    Tier.TIER_TRIAL, Tier.TIER_PRO -> tier == Tier.TIER_TRIAL || tier == Tier.TIER_PRO
}
