"""A conversation between two users through a booted bundle, with matrix-nio.

Run in the boot tests' client container against the homeserver's public URL.
Prints one JSON object per step on stdout ({"step": ..., "ok": ...}) and
exits 1 at the first step that fails. TLS is real but not verified: the
bundle's certificates come from ACME, which a test network cannot reach.

Usage:
  python3 client.py converse HOMESERVER_URL SERVER_NAME ALICE BOB PASSWORD
      the conversation; its last line, step "kept", names the room and the
      media it left, for verify
  python3 client.py verify HOMESERVER_URL USER PASSWORD ROOM_ID CONTENT_URI SHA256
      USER still sees the conversation's messages and its media, byte for byte
"""

import asyncio
import hashlib
import json
import os
import sys
import time

from nio import (AsyncClient, AsyncClientConfig, DownloadResponse,
                 JoinResponse, LoginResponse, RoomCreateResponse,
                 RoomResolveAliasResponse, RoomSendResponse, SyncResponse,
                 UploadResponse)


class StepFailed(Exception):
    pass


def report(step, ok, **details):
    print(json.dumps({"step": step, "ok": ok, **details}), flush=True)
    if not ok:
        raise StepFailed(step)


def expect(step, response, kind, **details):
    ok = isinstance(response, kind)
    if not ok:
        details["response"] = repr(response)[:500]
    report(step, ok, **details)
    return response


async def login(url, user, password):
    client = AsyncClient(url, user, ssl=False,
                         config=AsyncClientConfig(request_timeout=120, max_timeouts=2))
    expect(f"login {user}", await client.login(password, device_name="e2e"), LoginResponse)
    return client


async def texts_in(client, room_id, since):
    """Bodies of the text messages a sync returns for the room."""
    sync = expect(f"sync {client.user}", await client.sync(timeout=3000, since=since), SyncResponse)
    room = sync.rooms.join.get(room_id)
    if room is None:
        return sync.next_batch, []
    bodies = [e.body for e in room.timeline.events if getattr(e, "body", None) is not None]
    return sync.next_batch, bodies


async def wait_for_text(client, room_id, body, since=None):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        since, bodies = await texts_in(client, room_id, since)
        if body in bodies:
            return since
    report(f"{client.user} sees {body!r}", False)


async def send_text(client, room_id, body):
    content = {"msgtype": "m.text", "body": body}
    expect(f"{client.user} sends {body!r}",
           await client.room_send(room_id, "m.room.message", content), RoomSendResponse)


async def converse(url, server_name, alice_name, bob_name, password):
    alice = await login(url, alice_name, password)
    bob = await login(url, bob_name, password)
    try:
        # An alias with a character that travels percent-encoded.
        localpart = f"e2e-café-{os.getpid()}"
        alias = f"#{localpart}:{server_name}"
        created = expect("create room", await alice.room_create(
            alias=localpart, name="boot test", preset=None), RoomCreateResponse)
        room_id = created.room_id

        resolved = expect("resolve alias", await bob.room_resolve_alias(alias),
                          RoomResolveAliasResponse)
        report("alias names the room", resolved.room_id == room_id, alias=alias)
        await alice.room_invite(room_id, bob.user_id)
        expect("bob joins by alias", await bob.join(alias), JoinResponse)

        await send_text(alice, room_id, "hello from alice")
        await wait_for_text(bob, room_id, "hello from alice")
        await send_text(bob, room_id, "hello from bob")
        await wait_for_text(alice, room_id, "hello from bob")

        media = os.urandom(6 * 1024 * 1024)
        uploaded, _ = await alice.upload(lambda *_: media, content_type="application/octet-stream",
                                         filename="six-mib.bin", filesize=len(media))
        expect("upload 6 MiB", uploaded, UploadResponse)
        await alice.room_send(room_id, "m.room.message", {
            "msgtype": "m.file", "body": "six-mib.bin", "url": uploaded.content_uri})
        downloaded = expect("bob downloads it", await bob.download(uploaded.content_uri),
                            DownloadResponse)
        report("download has the uploaded bytes", downloaded.body == media,
               size=len(downloaded.body))
        report("kept", True, room_id=room_id, content_uri=uploaded.content_uri,
               sha256=hashlib.sha256(media).hexdigest())
    finally:
        await alice.close()
        await bob.close()


CONVERSATION = ["hello from alice", "hello from bob"]


async def verify(url, user, password, room_id, content_uri, sha256):
    client = await login(url, user, password)
    try:
        recent = {"room": {"timeline": {"limit": 50}}}
        sync = expect(f"sync {user}", await client.sync(timeout=0, full_state=True,
                                                        sync_filter=recent), SyncResponse)
        room = sync.rooms.join.get(room_id)
        report(f"{user} is in the room", room is not None, room_id=room_id)
        bodies = [getattr(e, "body", None) for e in room.timeline.events]
        for body in CONVERSATION:
            report(f"{user} sees {body!r}", body in bodies)
        downloaded = expect("download the media", await client.download(content_uri),
                            DownloadResponse)
        report("media has the same bytes", hashlib.sha256(downloaded.body).hexdigest() == sha256,
               size=len(downloaded.body))
    finally:
        await client.close()


def main():
    commands = {"converse": (converse, 5), "verify": (verify, 6)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands or len(sys.argv) != commands[sys.argv[1]][1] + 2:
        sys.exit(__doc__)
    command, _ = commands[sys.argv[1]]
    try:
        asyncio.run(command(*sys.argv[2:]))
    except StepFailed:
        sys.exit(1)


main()
