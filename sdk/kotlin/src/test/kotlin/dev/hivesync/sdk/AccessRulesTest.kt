package dev.hivesync.sdk

import com.connectrpc.Idempotency
import com.connectrpc.MethodSpec
import com.connectrpc.StreamType
import dev.hivesync.sdk.v1.GetCompatibilityRequest
import dev.hivesync.sdk.v1.GetCompatibilityResponse
import dev.hivesync.sdk.v1.MetaServiceOuterClass
import dev.hivesync.sdk.v1.Tier
import dev.hivesync.sdk.v1.accessRule as accessRuleDsl
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** Access rules read from the contract's `(hivesync.v1.access)` method option (no server needed). */
class AccessRulesTest {
    // 7. accessRule(GetCompatibility).public == true
    @Test
    fun getCompatibilityIsPublic() {
        val rule = accessRule("hivesync.v1.MetaService/GetCompatibility")
        assertNotNull(rule)
        assertTrue(rule!!.public)
        assertFalse(rule.skipVersionCheck)

        // Same rule through every spelling.
        val descriptor = MetaServiceOuterClass.getDescriptor()
            .findServiceByName("MetaService").findMethodByName("GetCompatibility")
        assertEquals(rule, accessRule(descriptor))
        assertEquals(rule, accessRule("/hivesync.v1.MetaService/GetCompatibility"))
        assertEquals(rule, accessRule("hivesync.v1.MetaService.GetCompatibility"))
        val spec = MethodSpec(
            "hivesync.v1.MetaService/GetCompatibility",
            GetCompatibilityRequest::class,
            GetCompatibilityResponse::class,
            StreamType.UNARY,
            Idempotency.NO_SIDE_EFFECTS,
        )
        assertEquals(rule, accessRule(spec))
    }

    @Test
    fun bootstrapAndTimeSkipTheVersionCheck() {
        assertTrue(accessRule("hivesync.v1.MetaService/GetBootstrapConfig")!!.skipVersionCheck)
        assertTrue(accessRule("hivesync.v1.MetaService/GetServerTime")!!.skipVersionCheck)
    }

    @Test
    fun everyMethodHasARule() {
        assertTrue(hiveSyncMethods.isNotEmpty())
        for (m in hiveSyncMethods) {
            assertNotNull(accessRule(m), "no (hivesync.v1.access) rule on ${m.fullName}")
        }
    }

    @Test
    fun unknownMethodIsRejected() {
        assertThrows(IllegalArgumentException::class.java) { accessRule("hivesync.v1.MetaService/Nope") }
        assertThrows(IllegalArgumentException::class.java) { accessRule("nonsense") }
    }

    @Test
    fun tierGate() {
        val pro = accessRuleDsl { feature = "ai_docs"; minTier = Tier.TIER_PRO }
        assertFalse(pro.allowsTier(Tier.TIER_FREE))
        assertTrue(pro.allowsTier(Tier.TIER_TRIAL))
        assertTrue(pro.allowsTier(Tier.TIER_PRO))
        assertTrue(accessRuleDsl { public = true }.allowsTier(Tier.TIER_FREE))
    }
}
