package dev.hivesync.sdk

import java.io.IOException
import java.nio.file.AtomicMoveNotSupportedException
import java.nio.file.FileSystems
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import java.nio.file.attribute.PosixFilePermissions
import java.time.Instant
import java.util.Properties

/**
 * Where an [AuthSession] keeps its tokens between runs. Implement it over the
 * platform's secret storage: JetBrains `PasswordSafe`, VS Code `SecretStorage`,
 * the OS keychain; a CLI can use [FileTokenStore].
 *
 * The session calls these methods from `Dispatchers.IO` (never the UI thread),
 * one at a time, and keeps its own copy in memory: [load] runs when the session
 * first needs tokens and on [AuthSession.reload]. [save] runs after every sign-in
 * and refresh — the refresh token rotates, so a store that drops a save loses the
 * session. Exceptions propagate to the caller of the session method.
 */
public interface TokenStore {
    /** The saved tokens, or `null` when there are none. */
    public fun load(): TokenSet?

    /** Replaces the saved tokens. */
    public fun save(tokens: TokenSet)

    /** Deletes the saved tokens. */
    public fun clear()
}

/** Keeps the tokens in memory only: they are gone when the process ends. The default. */
public class InMemoryTokenStore @JvmOverloads constructor(initial: TokenSet? = null) : TokenStore {
    @Volatile
    private var tokens: TokenSet? = initial

    override fun load(): TokenSet? = tokens

    override fun save(tokens: TokenSet) {
        this.tokens = tokens
    }

    override fun clear() {
        tokens = null
    }
}

/**
 * Keeps the tokens in a properties file readable only by the owner (mode 0600 on
 * POSIX systems), replaced atomically on every save. For CLIs and scripts; editor
 * plugins should prefer the platform's secret storage.
 */
public class FileTokenStore(public val path: Path) : TokenStore {
    override fun load(): TokenSet? {
        if (!Files.exists(path)) return null
        val p = Properties()
        Files.newBufferedReader(path).use { p.load(it) }
        val access = p.getProperty(ACCESS) ?: return null
        val expiresAt = p.getProperty(EXPIRES_AT)?.let { runCatching { Instant.parse(it) }.getOrNull() } ?: return null
        return TokenSet(
            accessToken = access,
            refreshToken = p.getProperty(REFRESH)?.takeIf { it.isNotEmpty() },
            expiresAt = expiresAt,
            scopes = p.getProperty(SCOPE).orEmpty().split(' ').filter { it.isNotEmpty() },
            tokenType = p.getProperty(TOKEN_TYPE) ?: "Bearer",
        )
    }

    override fun save(tokens: TokenSet) {
        val p = Properties()
        p.setProperty(ACCESS, tokens.accessToken)
        tokens.refreshToken?.let { p.setProperty(REFRESH, it) }
        p.setProperty(EXPIRES_AT, tokens.expiresAt.toString())
        p.setProperty(SCOPE, tokens.scopes.joinToString(" "))
        p.setProperty(TOKEN_TYPE, tokens.tokenType)
        val dir = path.toAbsolutePath().parent
        Files.createDirectories(dir)
        val tmp = if (posix) {
            Files.createTempFile(dir, ".hivesync-tokens", ".tmp", PosixFilePermissions.asFileAttribute(OWNER_ONLY))
        } else {
            Files.createTempFile(dir, ".hivesync-tokens", ".tmp")
        }
        try {
            Files.newBufferedWriter(tmp).use { p.store(it, "HiveSync tokens: keep private") }
            try {
                Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE)
            } catch (_: AtomicMoveNotSupportedException) {
                Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING)
            }
        } catch (e: IOException) {
            Files.deleteIfExists(tmp)
            throw e
        }
    }

    override fun clear() {
        Files.deleteIfExists(path)
    }

    private companion object {
        const val ACCESS = "access_token"
        const val REFRESH = "refresh_token"
        const val EXPIRES_AT = "expires_at"
        const val SCOPE = "scope"
        const val TOKEN_TYPE = "token_type"
        val OWNER_ONLY = PosixFilePermissions.fromString("rw-------")
        val posix: Boolean = "posix" in FileSystems.getDefault().supportedFileAttributeViews()
    }
}
