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
  python3 client.py federate URL_A SERVER_A USER_A URL_B SERVER_B USER_B PASSWORD
      USER_A creates a public room on server A, USER_B joins it from server B
      by its alias, messages go both ways, media uploaded on A is downloaded
      through B (authenticated media); the last line, step "figures", has
      the times in seconds. With MATRIX_CA set to a PEM file, TLS is
      verified against it.
"""

import asyncio
import hashlib
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from nio import (AsyncClient, AsyncClientConfig, DownloadResponse,
                 JoinResponse, LoginResponse, RoomCreateResponse,
                 RoomPreset, RoomResolveAliasResponse, RoomSendResponse,
                 RoomVisibility, SyncResponse, UploadResponse)


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


def tls():
    """False (not verified), or a context that trusts only MATRIX_CA."""
    ca = os.environ.get("MATRIX_CA")
    return ssl.create_default_context(cafile=ca) if ca else False


async def login(url, user, password):
    client = AsyncClient(url, user, ssl=tls(),
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


async def wait_for_text(client, room_id, body, since=None, wait=60):
    deadline = time.monotonic() + wait
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


def download_authenticated(url, server_name, media_id, token):
    """GET /_matrix/client/v1/media/download on url, as a client does."""
    target = (f"{url}/_matrix/client/v1/media/download/"
              f"{urllib.parse.quote(server_name)}/{urllib.parse.quote(media_id)}")
    request = urllib.request.Request(target, headers={"Authorization": f"Bearer {token}"})
    context = tls() or ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(request, timeout=120, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def federate(url_a, server_a, user_a, url_b, server_b, user_b, password):
    alice = await login(url_a, user_a, password)
    bob = await login(url_b, user_b, password)
    figures = {}
    try:
        localpart = f"federation-{os.getpid()}"
        alias = f"#{localpart}:{server_a}"
        created = expect("create public room", await alice.room_create(
            alias=localpart, name="federation test", visibility=RoomVisibility.public,
            preset=RoomPreset.public_chat), RoomCreateResponse)
        room_id = created.room_id

        started = time.monotonic()
        joined = await bob.join(alias)
        figures["join"] = time.monotonic() - started
        expect(f"{bob.user_id} joins {alias} over federation", joined, JoinResponse,
               seconds=round(figures["join"], 2))
        report("the join names the room", joined.room_id == room_id, room_id=room_id)

        # Each side's sync position before the other sends: what arrives
        # after it came over federation.
        bob_since, _ = await texts_in(bob, room_id, None)
        alice_since, _ = await texts_in(alice, room_id, None)

        started = time.monotonic()
        await send_text(alice, room_id, f"hello from {server_a}")
        await wait_for_text(bob, room_id, f"hello from {server_a}", since=bob_since, wait=120)
        figures["message_a_to_b"] = time.monotonic() - started
        report(f"{bob.user_id} sees the message from {server_a}", True,
               seconds=round(figures["message_a_to_b"], 2))

        started = time.monotonic()
        await send_text(bob, room_id, f"hello from {server_b}")
        await wait_for_text(alice, room_id, f"hello from {server_b}", since=alice_since, wait=120)
        figures["message_b_to_a"] = time.monotonic() - started
        report(f"{alice.user_id} sees the message from {server_b}", True,
               seconds=round(figures["message_b_to_a"], 2))

        media = os.urandom(2 * 1024 * 1024)
        uploaded, _ = await alice.upload(lambda *_: media, content_type="application/octet-stream",
                                         filename="two-mib.bin", filesize=len(media))
        expect(f"upload 2 MiB on {server_a}", uploaded, UploadResponse)
        await alice.room_send(room_id, "m.room.message", {
            "msgtype": "m.file", "body": "two-mib.bin", "url": uploaded.content_uri})
        origin, _, media_id = uploaded.content_uri.removeprefix("mxc://").partition("/")
        report("the media belongs to server A", origin == server_a, content_uri=uploaded.content_uri)
        started = time.monotonic()
        status, body = await asyncio.to_thread(
            download_authenticated, url_b, origin, media_id, bob.access_token)
        figures["media_through_b"] = time.monotonic() - started
        report(f"{bob.user_id} downloads it through {server_b}",
               status == 200 and hashlib.sha256(body).digest() == hashlib.sha256(media).digest(),
               status=status, size=len(body), seconds=round(figures["media_through_b"], 2))
        report("figures", True, **{k: round(v, 2) for k, v in figures.items()})
    finally:
        await alice.close()
        await bob.close()


def main():
    commands = {"converse": (converse, 5), "verify": (verify, 6), "federate": (federate, 7)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands or len(sys.argv) != commands[sys.argv[1]][1] + 2:
        sys.exit(__doc__)
    command, _ = commands[sys.argv[1]]
    try:
        asyncio.run(command(*sys.argv[2:]))
    except StepFailed:
        sys.exit(1)


main()
