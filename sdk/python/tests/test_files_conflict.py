"""Two devices edit the same file, against a live hivesyncd (see conftest.py).

One user, two sessions minted with `hivesyncd token create` (clients vscode
and jetbrains), each registered as a device: the shared SDK scenario for
compare-and-set saves. The stale save must come back as `aborted` with a
typed `hivesync.v1.Conflict` decoded by `hivesync.errors.conflict` (never by
parsing the message), write nothing, and be resolvable by saving a merge on
the conflict's head; a retried save with the same idempotency key must not
add a version.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

import hivesync
from hivesync import AsyncHiveSyncClient, HiveSyncClient, content_sha256, errors
from hivesync.v1.device_service_pb2 import RegisterDeviceRequest
from hivesync.v1.errors_pb2 import Conflict
from hivesync.v1.file_service_pb2 import (
    CreateFileRequest,
    GetFileRequest,
    GetFileResponse,
    ListVersionsRequest,
    SaveFileRequest,
)
from hivesync.v1.project_service_pb2 import (
    CreateProjectRequest,
    ListProjectsRequest,
    ProjectRole,
)

from .conftest import CURRENT_PLUGIN_PROTOCOL_VERSION

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PLUGIN_VERSION = CURRENT_PLUGIN_PROTOCOL_VERSION
PATH = "src/app.ts"
ORIGINAL = "a\nb\n"
A_EDIT = "a\nB\n"
B_EDIT = "a\nb\nc\n"
B_MERGE = "a\nB\nc\n"


def sha256_hex(text: str) -> str:
    """Independent of the SDK helper: what the contract says the hashes are."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Device:
    """One editor session of the user, registered as a device."""

    client_id: str
    access_token: str
    user_id: str
    hs: HiveSyncClient
    device_id: str = ""


@pytest.fixture
def devices(
    base_url: str, mint_tokens: Callable[..., dict[str, Any]]
) -> Iterator[tuple[Device, Device]]:
    """Device A (vscode) and device B (jetbrains) of one fresh user."""
    email = f"two-devices-{uuid.uuid4().hex[:12]}@example.test"
    made: list[Device] = []
    try:
        for client_id in ("vscode", "jetbrains"):
            minted = mint_tokens(email, client_id)
            token = str(minted["access_token"])
            hs = HiveSyncClient(
                base_url, token_provider=lambda t=token: t, plugin_version=PLUGIN_VERSION
            )
            dev = Device(client_id, token, str(minted["user_id"]), hs)
            made.append(dev)
            registered = hs.devices.register_device(
                RegisterDeviceRequest(platform="linux", client_version="1.0.0")
            )
            dev.device_id = registered.device.id
        a, b = made
        assert a.user_id == b.user_id, "both sessions belong to the same user"
        assert a.device_id and b.device_id and a.device_id != b.device_id
        yield a, b
    finally:
        for dev in made:
            dev.hs.close()


def _stale_save_conflict(call: Callable[[], object]) -> tuple[ConnectError, Conflict]:
    """Runs a save expected to be rejected; returns the error and its Conflict."""
    with pytest.raises(ConnectError) as info:
        call()
    err = info.value
    assert err.code == Code.ABORTED, f"expected aborted, got {err.code}: {err.message}"
    detail = errors.conflict(err)
    assert detail is not None, f"aborted without a Conflict detail: {err.details!r}"
    # The same detail through the generic decoders.
    assert errors.find_detail(err, Conflict) == detail
    assert detail in errors.details(err)
    return err, detail


def test_two_devices_edit_the_same_file(devices: tuple[Device, Device]) -> None:
    a, b = devices

    # 1. Device A creates a project and src/app.ts.
    project = a.hs.projects.create_project(CreateProjectRequest(name="Two devices")).project
    assert project.id
    assert project.role == ProjectRole.PROJECT_ROLE_OWNER
    created = a.hs.files.create_file(
        CreateFileRequest(project_id=project.id, path=PATH, content=ORIGINAL)
    ).file
    assert created.path == PATH
    assert created.project_id == project.id
    assert created.head.revision == 1
    assert created.head.content_sha256 == sha256_hex(ORIGINAL)
    file_id = created.id

    # 2. Both devices read the file: same head.
    seen_a = a.hs.files.get_file(GetFileRequest(file_id=file_id))
    seen_b = b.hs.files.get_file(GetFileRequest(file_id=file_id))
    for seen in (seen_a, seen_b):
        assert seen.content == ORIGINAL
        assert seen.file.head.id == created.head.id
        assert seen.file.head.revision == 1
    base = seen_b.file.head.id

    # 3. Device A saves first: revision 2.
    saved_a = a.hs.files.save_file(
        SaveFileRequest(
            file_id=file_id,
            base_revision_id=seen_a.file.head.id,
            content=A_EDIT,
            idempotency_key=str(uuid.uuid4()),
            device_id=a.device_id,
        )
    ).version
    assert saved_a.revision == 2
    assert saved_a.id and saved_a.id != base
    assert saved_a.content_sha256 == sha256_hex(A_EDIT)
    assert saved_a.device_id == a.device_id
    assert saved_a.author_user_id == a.user_id

    # 4. Device B saves on the old base: a typed Conflict, decoded by the SDK.
    stale = SaveFileRequest(
        file_id=file_id,
        base_revision_id=base,
        content=B_EDIT,
        idempotency_key=str(uuid.uuid4()),
        device_id=b.device_id,
    )
    _, conflict = _stale_save_conflict(lambda: b.hs.files.save_file(stale))
    assert conflict.file_id == file_id
    assert conflict.path == PATH
    assert conflict.base_revision_id == base
    assert conflict.head_revision == 2
    assert conflict.head_revision_id == saved_a.id
    assert conflict.head_content_sha256 == sha256_hex(A_EDIT)
    assert conflict.client_content_sha256 == sha256_hex(B_EDIT)
    assert conflict.client_content_sha256 == content_sha256(B_EDIT)
    diff_lines = conflict.unified_diff.splitlines()
    assert "-b" in diff_lines, conflict.unified_diff
    assert "+B" in diff_lines, conflict.unified_diff
    assert "+c" not in diff_lines, "the diff is base -> server head, not B's edit"

    # 5. Nothing was overwritten.
    after = b.hs.files.get_file(GetFileRequest(file_id=file_id))
    assert after.content == A_EDIT
    assert after.file.head.id == saved_a.id
    assert after.file.head.revision == 2
    versions = b.hs.files.list_versions(ListVersionsRequest(file_id=file_id)).versions
    assert [v.revision for v in versions] == [2, 1], "newest first, the stale save wrote nothing"
    assert [v.id for v in versions] == [saved_a.id, created.head.id]

    # 6. Device B resolves: its merge, saved on the conflict's head.
    merge = SaveFileRequest(
        file_id=file_id,
        base_revision_id=conflict.head_revision_id,
        content=B_MERGE,
        idempotency_key=str(uuid.uuid4()),
        device_id=b.device_id,
    )
    saved_b = b.hs.files.save_file(merge).version
    assert saved_b.revision == 3
    assert saved_b.content_sha256 == sha256_hex(B_MERGE)
    assert saved_b.device_id == b.device_id
    assert saved_b.author_user_id == b.user_id

    # 7. The same save retried (its answer was "lost"): same version, no 4th.
    # Its base is no longer the head, but the key is checked first.
    retried = b.hs.files.save_file(merge).version
    assert retried.id == saved_b.id
    assert retried.revision == 3
    final: GetFileResponse = a.hs.files.get_file(GetFileRequest(file_id=file_id))
    assert final.content == B_MERGE
    assert final.file.head.id == saved_b.id
    versions = a.hs.files.list_versions(ListVersionsRequest(file_id=file_id)).versions
    assert [v.revision for v in versions] == [3, 2, 1]
    assert [v.device_id for v in versions[:2]] == [b.device_id, a.device_id]


def test_retried_stale_save_conflicts_again(devices: tuple[Device, Device]) -> None:
    """An idempotency key replays only a save that happened: retrying a
    rejected save (same key) is rejected again and still writes nothing."""
    a, b = devices
    project = a.hs.projects.create_project(CreateProjectRequest(name="Keys")).project
    created = a.hs.files.create_file(
        CreateFileRequest(project_id=project.id, path=PATH, content=ORIGINAL)
    ).file
    a.hs.files.save_file(
        SaveFileRequest(file_id=created.id, base_revision_id=created.head.id, content=A_EDIT)
    )
    stale = SaveFileRequest(
        file_id=created.id,
        base_revision_id=created.head.id,
        content=B_EDIT,
        idempotency_key=str(uuid.uuid4()),
    )
    for _ in range(2):
        _, conflict = _stale_save_conflict(lambda: b.hs.files.save_file(stale))
        assert conflict.head_revision == 2
    versions = b.hs.files.list_versions(ListVersionsRequest(file_id=created.id)).versions
    assert [v.revision for v in versions] == [2, 1]


def _file_edited_by_a(a: Device, content: str = ORIGINAL) -> tuple[str, str]:
    """A new file of a new project, saved once by device A (A_EDIT on top of
    ``content``). Returns (file id, the now stale first revision id)."""
    project = a.hs.projects.create_project(CreateProjectRequest(name="Scratch")).project
    created = a.hs.files.create_file(
        CreateFileRequest(project_id=project.id, path=PATH, content=content)
    ).file
    a.hs.files.save_file(
        SaveFileRequest(file_id=created.id, base_revision_id=created.head.id, content=A_EDIT)
    )
    return created.id, created.head.id


def test_conflict_when_the_head_already_has_the_text(devices: tuple[Device, Device]) -> None:
    """content_sha256 lets a plugin see that a conflicting head is its own text
    (e.g. the other device saved the same edit) without fetching it."""
    a, b = devices
    file_id, stale = _file_edited_by_a(a)
    _, conflict = _stale_save_conflict(
        lambda: b.hs.files.save_file(
            SaveFileRequest(file_id=file_id, base_revision_id=stale, content=A_EDIT)
        )
    )
    assert conflict.head_content_sha256 == content_sha256(A_EDIT)
    assert conflict.client_content_sha256 == conflict.head_content_sha256


def test_server_hashes_follow_crlf_normalization(devices: tuple[Device, Device]) -> None:
    """CRLF is stored as LF: version hashes are of the stored text, and so is
    the SDK's content_sha256."""
    a, _ = devices
    project = a.hs.projects.create_project(CreateProjectRequest(name="CRLF")).project
    created = a.hs.files.create_file(
        CreateFileRequest(project_id=project.id, path=PATH, content="a\r\nb\r\n")
    ).file
    assert created.head.content_sha256 == content_sha256("a\r\nb\r\n") == sha256_hex(ORIGINAL)
    got = a.hs.files.get_file(GetFileRequest(file_id=created.id))
    assert got.content == ORIGINAL
    saved = a.hs.files.save_file(
        SaveFileRequest(file_id=created.id, base_revision_id=created.head.id, content="a\r\nB\r\n")
    ).version
    assert saved.content_sha256 == content_sha256("a\r\nB\r\n") == sha256_hex(A_EDIT)


def test_conflict_client_hash_is_of_the_stored_text(devices: tuple[Device, Device]) -> None:
    """B's editor made the same edit as A but with CRLF line endings: the
    rejected text is the head's text once stored, so the hashes must match."""
    a, b = devices
    file_id, stale = _file_edited_by_a(a)
    mine = "a\r\nB\r\n"
    _, conflict = _stale_save_conflict(
        lambda: b.hs.files.save_file(
            SaveFileRequest(file_id=file_id, base_revision_id=stale, content=mine)
        )
    )
    assert conflict.head_content_sha256 == content_sha256(mine)
    assert conflict.client_content_sha256 == content_sha256(mine)


def test_conflict_on_an_unknown_base_hashes_the_client_content(
    devices: tuple[Device, Device],
) -> None:
    a, b = devices
    file_id, _ = _file_edited_by_a(a)
    _, conflict = _stale_save_conflict(
        lambda: b.hs.files.save_file(
            SaveFileRequest(file_id=file_id, base_revision_id=str(uuid.uuid4()), content=B_EDIT)
        )
    )
    assert conflict.head_revision == 2
    assert conflict.unified_diff == "", "no diff without a known base"
    assert conflict.client_content_sha256 == sha256_hex(B_EDIT)


def test_save_rules_for_keys_and_devices(devices: tuple[Device, Device]) -> None:
    """A key reused for other content is refused; device_id must be one of the
    user's devices and defaults to the session's registered device."""
    a, b = devices
    file_id, _ = _file_edited_by_a(a)
    head = b.hs.files.get_file(GetFileRequest(file_id=file_id)).file.head
    assert head.device_id == a.device_id, "no device_id sent: the session's device"
    key = str(uuid.uuid4())
    first = b.hs.files.save_file(
        SaveFileRequest(file_id=file_id, base_revision_id=head.id, content=B_MERGE, idempotency_key=key)
    ).version
    assert first.revision == 3
    with pytest.raises(ConnectError) as info:
        b.hs.files.save_file(
            SaveFileRequest(file_id=file_id, base_revision_id=head.id, content=B_EDIT, idempotency_key=key)
        )
    assert info.value.code == Code.INVALID_ARGUMENT
    assert errors.conflict(info.value) is None
    with pytest.raises(ConnectError) as info:
        b.hs.files.save_file(
            SaveFileRequest(
                file_id=file_id, base_revision_id=first.id, content="x\n", device_id=str(uuid.uuid4())
            )
        )
    assert info.value.code == Code.INVALID_ARGUMENT
    versions = b.hs.files.list_versions(ListVersionsRequest(file_id=file_id)).versions
    assert [v.revision for v in versions] == [3, 2, 1]


def test_async_client_two_devices(base_url: str, mint_tokens: Callable[..., dict[str, Any]]) -> None:
    """The same conflict through AsyncHiveSyncClient's projects/files clients."""
    email = f"async-devices-{uuid.uuid4().hex[:12]}@example.test"
    tokens = [str(mint_tokens(email, c)["access_token"]) for c in ("vscode", "jetbrains")]

    async def scenario() -> None:
        async with (
            AsyncHiveSyncClient(
                base_url, token_provider=lambda: tokens[0], plugin_version=PLUGIN_VERSION
            ) as a,
            AsyncHiveSyncClient(
                base_url, token_provider=lambda: tokens[1], plugin_version=PLUGIN_VERSION
            ) as b,
        ):
            project = (await a.projects.create_project(CreateProjectRequest(name="Async"))).project
            listed = await b.projects.list_projects(ListProjectsRequest())
            assert project.id in [p.id for p in listed.projects]
            created = (
                await a.files.create_file(
                    CreateFileRequest(project_id=project.id, path=PATH, content=ORIGINAL)
                )
            ).file
            base = (await b.files.get_file(GetFileRequest(file_id=created.id))).file.head.id
            won = (
                await a.files.save_file(
                    SaveFileRequest(file_id=created.id, base_revision_id=base, content=A_EDIT)
                )
            ).version
            with pytest.raises(ConnectError) as info:
                await b.files.save_file(
                    SaveFileRequest(file_id=created.id, base_revision_id=base, content=B_EDIT)
                )
            assert info.value.code == Code.ABORTED
            conflict = errors.conflict(info.value)
            assert conflict is not None
            assert conflict.head_revision_id == won.id
            assert conflict.head_revision == 2
            resolved = (
                await b.files.save_file(
                    SaveFileRequest(
                        file_id=created.id,
                        base_revision_id=conflict.head_revision_id,
                        content=B_MERGE,
                    )
                )
            ).version
            assert resolved.revision == 3

    asyncio.run(scenario())


def _rest(
    method: str, url: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310
        url,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            hivesync.PLUGIN_VERSION_HEADER: str(PLUGIN_VERSION),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw or b"{}")
        except json.JSONDecodeError:
            pytest.fail(f"{method} {url} -> {err.code} with a non-JSON body: {raw[:500]!r}")


def test_rest_stale_save_is_409_with_a_conflict(
    base_url: str, devices: tuple[Device, Device]
) -> None:
    """REST callers get HTTP 409 and the same detail via details_from_json."""
    a, b = devices
    project = a.hs.projects.create_project(CreateProjectRequest(name="REST")).project
    created = a.hs.files.create_file(
        CreateFileRequest(project_id=project.id, path=PATH, content=ORIGINAL)
    ).file
    url = f"{base_url}/api/v1/files/{created.id}"
    status, body = _rest(
        "PUT", url, a.access_token, {"baseRevisionId": created.head.id, "content": A_EDIT}
    )
    assert status == 200, body
    status, body = _rest(
        "PUT", url, b.access_token, {"baseRevisionId": created.head.id, "content": B_EDIT}
    )
    assert status == 409, body
    found = [d for d in errors.details_from_json(body) if isinstance(d, Conflict)]
    assert len(found) == 1, body
    assert found[0].head_revision == 2
    assert found[0].client_content_sha256 == sha256_hex(B_EDIT)


def test_content_sha256() -> None:
    assert content_sha256("") == hashlib.sha256(b"").hexdigest()
    assert content_sha256("a\r\nb\r\n") == sha256_hex("a\nb\n")
    assert content_sha256("a\rb") == sha256_hex("a\rb"), "only CRLF is normalized"
    assert content_sha256("é\n") == hashlib.sha256("é\n".encode()).hexdigest()
    assert hivesync.normalize_content("x\r\n\r\ny") == "x\n\ny"
