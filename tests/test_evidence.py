"""Evidence from the field through the real app: records naming attachments (accepted at once,
PENDING), the strict reading of what they name, the tus upload over HTTP (chunks, a retried chunk,
a wrong offset, a bad chunk checksum, a finished upload with the wrong hash, limits, strangers),
photos re-encoded without their location unless the company keeps it, who sees evidence (GraphQL
and the feed), two PATCHes at one offset, and one attachment id named by two records."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import shutil
import subprocess
import uuid
import wave
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pypdf
import pytest
from PIL import ExifTags, Image

from backend.ids import to_global_id
from backend.models import (
    Attendance,
    AttendanceStatus,
    AuditEntry,
    CourseModule,
    EmployeeRole,
    EvidenceAttachment,
    EvidenceChunk,
    EvidenceStatus,
    MediaObject,
    Mentorship,
    ModuleKind,
    Role,
    Tenant,
    TrainingSession,
)
from backend.services.content import evidence_upload
from backend.services.content.media_links import read_media_key
from backend.services.content.storage import media_store
from tests.conftest import count_queries
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.servers import Served
from tests.sync_helpers import PULL, PUSH, pull_input, push_input

AN_HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)
TUS = {"Tus-Resumable": "1.0.0"}
PENDING_REVIEWS = """
query { pendingPracticeReviews { edges { node { id
  evidence { id kind mimeType fileName sizeBytes sha256 status receivedAt url urlExpiresAt } } } } }
"""
LOGS = """
query P($employeeId: ID) { practiceLogs(employeeId: $employeeId) { edges { node { id
  evidence { id status url } } } } }
"""


def pdf_bytes(marker: str, padding: int = 0) -> bytes:
    """A real PDF (evidence is typed from its bytes), distinct per marker."""
    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Title": marker, "/Subject": "x" * padding})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def wav_bytes(seconds: float = 1.0) -> bytes:
    """A real WAV voice note: silence, 8 kHz mono 16-bit."""
    out = io.BytesIO()
    with wave.open(out, "wb") as note:
        note.setnchannels(1)
        note.setsampwidth(2)
        note.setframerate(8000)
        note.writeframes(b"\0\0" * int(8000 * seconds))
    return out.getvalue()


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


def gid(type_name: str, row_id: int) -> str:
    return to_global_id(type_name, row_id)


def photo(width: int = 4000, height: int = 3000, *, gps: bool = True, orientation: int = 6) -> bytes:
    """A noisy JPEG (so it does not compress to nothing) with a camera tag, an orientation and,
    optionally, where it was taken (上海)."""
    image = Image.effect_noise((width, height), 60).convert("RGB")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def attachment(data: bytes, mime_type: str = "image/jpeg", file_name: str = "工单.jpg", **changes) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "sha256": hashlib.sha256(data).hexdigest(),
        "sizeBytes": len(data),
        "mimeType": mime_type,
        "fileName": file_name,
        **changes,
    }


async def practice_module(company) -> CourseModule:
    return await CourseModule.get(course=company.courses["A-002"], position=2)


def practice_record(module: CourseModule, seq: int, attachments, record_id: str | None = None) -> dict:
    return {
        "id": record_id or str(uuid.uuid4()),
        "seq": seq,
        "kind": "PRACTICE_LOG",
        "occurredAt": AN_HOUR_AGO.isoformat(),
        "payload": {"moduleId": gid("CourseModule", module.id), "quantity": 1, "attachments": attachments},
    }


async def push(client, token, records, device="device-1") -> list[dict]:
    body = await gql(client, PUSH, push_input(records, device_id=device), token=token)
    assert body["data"]["syncPush"]["errors"] == [], body
    return body["data"]["syncPush"]["results"]


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", **TUS}


async def head(client, token, attachment_id):
    return await client.head(f"/evidence/{attachment_id}", headers=auth(token))


async def patch(client, token, attachment_id, offset, data, checksum: bool | str = True, **headers):
    sent = {**auth(token), "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)}
    if checksum is True:
        sent["Upload-Checksum"] = "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()
    elif checksum:
        sent["Upload-Checksum"] = checksum
    sent.update(headers)
    return await client.patch(f"/evidence/{attachment_id}", content=data, headers=sent)


async def upload(client, token, attachment_id, data, chunk=64 * 1024):
    """Send ``data`` in chunks; the last answer."""
    answer = None
    for offset in range(0, len(data), chunk):
        answer = await patch(client, token, attachment_id, offset, data[offset : offset + chunk])
        assert answer.status_code == 204, answer.text
        assert int(answer.headers["Upload-Offset"]) == min(offset + chunk, len(data))
    return answer


async def logged_with(client, company, attachments, token=None, seq=1):
    """LRN logs practice naming ``attachments``; (the learner's token, the record's result)."""
    token = token or await token_for(client, company.code, "LRN")
    results = await push(client, token, [practice_record(await practice_module(company), seq, attachments)])
    return token, results[0]


async def test_a_practice_log_with_attachments_is_accepted_at_once_and_pending(client, company):
    data = photo(800, 600)
    voice = b"ID3" + bytes(range(256)) * 40
    named = [attachment(data), attachment(voice, "audio/mpeg", "客户反馈.mp3")]
    _, result = await logged_with(client, company, named)
    assert result["status"] == "ACCEPTED", result
    rows = {str(r.id): r for r in await EvidenceAttachment.filter(tenant_id=company.tenant.id)}
    assert set(rows) == {named[0]["id"], named[1]["id"]}
    for item in named:
        row = rows[item["id"]]
        assert row.status == EvidenceStatus.PENDING and row.received_bytes == 0 and row.media_id is None
        assert row.employee_id == company.employees["LRN"].id and str(row.record_id) == result["id"]
        assert (row.sha256, row.size_bytes, row.mime_type) == (item["sha256"], item["sizeBytes"], item["mimeType"])
    assert rows[named[1]["id"]].kind == "AUDIO" and rows[named[1]["id"]].file_name == "客户反馈.mp3"
    # The mentor sees "evidence pending", without a link.
    mentor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    nodes = (await gql(client, PENDING_REVIEWS, token=mentor))["data"]["pendingPracticeReviews"]["edges"]
    shown = nodes[0]["node"]["evidence"]
    assert [e["id"] for e in shown] == [named[0]["id"], named[1]["id"]]
    assert shown[0]["status"] == "PENDING" and shown[0]["url"] is None and shown[0]["kind"] == "IMAGE"
    assert shown[0]["sizeBytes"] == len(data) and shown[0]["fileName"] == "工单.jpg"
    # ... offline too: the mentor's feed row of the log lists it.
    changes = (await gql(client, PULL, pull_input(device_id="mgr-phone"), token=mentor))["data"]["syncPull"]["changes"]
    log = next(c for c in changes if c["entity"] == "PRACTICE_LOG")
    assert [(e["id"], e["status"]) for e in log["data"]["evidence"]] == [(n["id"], "PENDING") for n in named]


BAD = [
    ({"attachments": "photo"}, "attachments"),
    ({"attachments": [{}] * 11}, "attachments"),
    ({"id": "not-a-uuid"}, "attachments[0].id"),
    ({"id": "{" + str(uuid.uuid4()) + "}"}, "attachments[0].id"),
    ({"sha256": "00" * 31}, "attachments[0].sha256"),
    ({"sha256": "zz" * 32}, "attachments[0].sha256"),
    ({"sizeBytes": 0}, "attachments[0].sizeBytes"),
    ({"sizeBytes": True}, "attachments[0].sizeBytes"),
    ({"sizeBytes": "12"}, "attachments[0].sizeBytes"),
    ({"sizeBytes": 100 * 1024 * 1024 + 1}, "attachments[0].sizeBytes"),  # over evidence_max_bytes
    ({"mimeType": "image/heic"}, "attachments[0].mimeType"),
    ({"mimeType": "text/html"}, "attachments[0].mimeType"),
    ({"mimeType": None}, "attachments[0].mimeType"),
    ({"fileName": "a\nb.jpg"}, "attachments[0].fileName"),
    ({"fileName": "x" * 256}, "attachments[0].fileName"),
    ({"owner": "HR1"}, "attachments[0]"),
]


@pytest.mark.parametrize("change,field", BAD)
async def test_a_bad_attachment_rejects_the_record_naming_the_field(client, company, change, field):
    good = attachment(pdf_bytes("work order"), "application/pdf", "工单.pdf")
    attachments = change.get("attachments", [{**good, **change}])
    token = await token_for(client, company.code, "LRN")
    record = practice_record(await practice_module(company), 1, attachments)
    body = await gql(client, PUSH, push_input([record]), token=token, language="en")
    result = body["data"]["syncPush"]["results"][0]
    assert (result["status"], result["code"]) == ("REJECTED", "INVALID_PAYLOAD"), result
    assert f"field {field} is invalid" in result["message"]
    assert not await EvidenceAttachment.filter(tenant_id=company.tenant.id).exists()


async def test_two_attachments_with_one_id_in_a_record_are_refused(client, company):
    one = attachment(pdf_bytes("a"), "application/pdf")
    twice = [one, {**attachment(pdf_bytes("b"), "application/pdf"), "id": one["id"]}]
    _, result = await logged_with(client, company, twice)
    assert (result["status"], result["code"]) == ("REJECTED", "INVALID_PAYLOAD")


async def test_a_chunked_upload_with_a_retried_chunk_ends_received_and_the_mentor_gets_a_link(
    client, company, test_settings
):
    data = photo()
    named = attachment(data)
    token, result = await logged_with(client, company, [named])
    assert result["status"] == "ACCEPTED"
    mentor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    first_pull = (await gql(client, PULL, pull_input(device_id="mgr-phone"), token=mentor))["data"]["syncPull"]
    chunk = 100 * 1024
    assert len(data) > 3 * chunk
    # The first chunk, its answer "lost": sent again, harmless.
    assert (await patch(client, token, named["id"], 0, data[:chunk])).status_code == 204
    again = await patch(client, token, named["id"], 0, data[:chunk])
    assert again.status_code == 204 and again.headers["Upload-Offset"] == str(chunk)
    assert again.headers["Tus-Resumable"] == "1.0.0" and again.headers["Cache-Control"] == "no-store"
    # A retried chunk that differs from what is stored is no retry.
    forged = await patch(client, token, named["id"], 0, b"x" * chunk)
    assert forged.status_code == 409 and forged.headers["Upload-Offset"] == str(chunk)
    state = await head(client, token, named["id"])
    assert state.status_code == 200
    assert (state.headers["Upload-Offset"], state.headers["Upload-Length"]) == (str(chunk), str(len(data)))
    assert state.headers["Cache-Control"] == "no-store" and state.headers["Tus-Resumable"] == "1.0.0"
    # The rest, without checksums on the middle chunks (optional in tus).
    for offset in range(chunk, len(data), chunk):
        piece = data[offset : offset + chunk]
        answer = await patch(client, token, named["id"], offset, piece, checksum=offset + chunk >= len(data))
        assert answer.status_code == 204, answer.text
    assert answer.headers["Upload-Offset"] == str(len(data))
    row = await EvidenceAttachment.get(id=named["id"]).select_related("media")
    assert row.status == EvidenceStatus.RECEIVED and row.received_at is not None
    assert row.sha256 == named["sha256"]  # what the phone verifies; the media is the re-encoded file
    assert not await EvidenceChunk.filter(attachment_id=row.id).exists()
    media = row.media
    assert media.sha256 != named["sha256"] and media.mime_type == "image/jpeg" and media.kind == "IMAGE"
    stored = media_store(test_settings).local_path(media.sha256)
    assert stored is not None and hashlib.sha256(stored.read_bytes()).hexdigest() == media.sha256
    # Re-encoded: smaller, at most 1920 px, upright (orientation 6: the 4000×3000 sensor image is a
    # portrait photo), and no metadata at all (this company does not keep photo locations).
    assert media.size_bytes < len(data) / 2
    with Image.open(stored) as kept:
        assert kept.size == (1440, 1920) == (media.width, media.height)
        exif = kept.getexif()
        assert not exif.get_ifd(ExifTags.IFD.GPSInfo) and ExifTags.Base.Make not in exif
        assert ExifTags.Base.Orientation not in exif
    # The mentor sees it received, with a link the /media route accepts.
    node = (await gql(client, PENDING_REVIEWS, token=mentor))["data"]["pendingPracticeReviews"]["edges"][0]["node"]
    shown = node["evidence"][0]
    assert shown["status"] == "RECEIVED" and shown["receivedAt"] and shown["urlExpiresAt"]
    link = urlparse(shown["url"])
    assert link.path == f"/media/{media.sha256}"
    claims = read_media_key(test_settings, media.sha256, parse_qs(link.query)["k"][0])
    assert claims.tenant_id == company.tenant.id and claims.mime_type == "image/jpeg"
    served = await client.get(shown["url"])
    assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == media.sha256
    # The mentor's phone learns of it from the feed: the log is sent again, received.
    later = await gql(client, PULL, pull_input(first_pull["cursor"], device_id="mgr-phone"), token=mentor)
    log = next(c for c in later["data"]["syncPull"]["changes"] if c["entity"] == "PRACTICE_LOG")
    assert log["data"]["evidence"][0]["status"] == "RECEIVED"
    # Done: any chunk again, or a HEAD, says so.
    assert (await patch(client, token, named["id"], 0, data[:chunk])).headers["Upload-Offset"] == str(len(data))
    assert (await head(client, token, named["id"])).headers["Upload-Offset"] == str(len(data))


POLICY = "mutation P($keep: Boolean!) { updateEvidencePolicy(keepPhotoLocation: $keep) { policy { keepPhotoLocation } errors { code } } }"


async def test_hr_decides_whether_photos_keep_their_location(client, company):
    learner = await token_for(client, company.code, "LRN")
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    ask = "{ evidencePolicy { keepPhotoLocation } }"
    assert (await gql(client, ask, token=learner))["data"]["evidencePolicy"] == {"keepPhotoLocation": False}
    refused = await gql(client, POLICY, {"keep": True}, token=learner)
    assert refused["data"]["updateEvidencePolicy"]["errors"][0]["code"] == "FORBIDDEN"
    assert (await Tenant.get(id=company.tenant.id)).keep_photo_location is False
    changed = await gql(client, POLICY, {"keep": True}, token=hr)
    assert changed["data"]["updateEvidencePolicy"] == {"policy": {"keepPhotoLocation": True}, "errors": []}
    assert (await gql(client, ask, token=learner))["data"]["evidencePolicy"] == {"keepPhotoLocation": True}
    entry = await AuditEntry.filter(tenant_id=company.tenant.id, action="evidence.policy.update").get()
    assert entry.details == {"before": {"keepPhotoLocation": False}, "after": {"keepPhotoLocation": True}}
    await gql(client, POLICY, {"keep": False}, token=hr)


async def test_photo_location_is_kept_only_where_the_company_keeps_it(client, company, test_settings):
    await Tenant.filter(id=company.tenant.id).update(keep_photo_location=True)
    data = photo(1200, 900, orientation=1)
    named = attachment(data)
    token, _ = await logged_with(client, company, [named])
    await upload(client, token, named["id"], data)
    row = await EvidenceAttachment.get(id=named["id"]).select_related("media")
    with Image.open(media_store(test_settings).local_path(row.media.sha256)) as kept:
        exif = kept.getexif()
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)[1] == "N" and ExifTags.Base.Make not in exif
        assert kept.size == (1200, 900)


async def test_wrong_offsets_and_bad_checksums_store_nothing(client, company):
    data = pdf_bytes("") + bytes(range(256)) * 100
    named = attachment(data, "application/pdf", "报告.pdf")
    token, _ = await logged_with(client, company, [named])
    ahead = await patch(client, token, named["id"], 10, data[10:20])
    assert ahead.status_code == 409 and ahead.headers["Upload-Offset"] == "0"
    assert ahead.json()["errors"][0]["extensions"]["code"] == "UPLOAD_OFFSET_MISMATCH"
    bad = await patch(
        client, token, named["id"], 0, data[:100], checksum="sha256 " + base64.b64encode(b"\0" * 32).decode()
    )
    assert bad.status_code == 460 and bad.json()["errors"][0]["extensions"]["code"] == "CHUNK_CHECKSUM_MISMATCH"
    for header in ("md5 AAAA", "sha256 not base64!", "sha256 " + base64.b64encode(b"short").decode()):
        assert (await patch(client, token, named["id"], 0, data[:100], checksum=header)).status_code == 400
    for offset in ("-1", "abc", "1e3", ""):
        assert (await patch(client, token, named["id"], 0, data[:100], **{"Upload-Offset": offset})).status_code == 400
    assert (await head(client, token, named["id"])).headers["Upload-Offset"] == "0"
    assert not await EvidenceChunk.filter(attachment_id=named["id"]).exists()
    # Half of a chunk already stored plus new bytes is not a retry: 409 with the offset.
    assert (await patch(client, token, named["id"], 0, data[:1000])).status_code == 204
    overlap = await patch(client, token, named["id"], 500, data[500:1500])
    assert overlap.status_code == 409 and overlap.headers["Upload-Offset"] == "1000"
    rest = await patch(client, token, named["id"], 1000, data[1000:])
    assert rest.status_code == 204 and rest.headers["Upload-Offset"] == str(len(data))
    row = await EvidenceAttachment.get(id=named["id"]).select_related("media")
    assert row.status == EvidenceStatus.RECEIVED and row.media.sha256 == named["sha256"]  # a PDF is kept as sent


async def test_a_finished_upload_with_the_wrong_hash_is_refused_and_starts_again(client, company):
    data = wav_bytes()
    named = attachment(data, "audio/wav", "现场录音.wav")
    token, _ = await logged_with(client, company, [named])
    wrong = bytes(reversed(data))
    first = await patch(client, token, named["id"], 0, wrong[:5000])
    assert first.status_code == 204
    refused = await patch(client, token, named["id"], 5000, wrong[5000:])
    assert refused.status_code == 422 and refused.headers["Upload-Offset"] == "0"
    assert refused.json()["errors"][0]["extensions"]["code"] == "EVIDENCE_HASH_MISMATCH"
    row = await EvidenceAttachment.get(id=named["id"])
    assert (row.status, row.received_bytes, row.media_id) == (EvidenceStatus.PENDING, 0, None)
    assert not await EvidenceChunk.filter(attachment_id=row.id).exists()
    assert not await MediaObject.filter(tenant_id=company.tenant.id).exists()
    assert (await head(client, token, named["id"])).headers["Upload-Offset"] == "0"
    await upload(client, token, named["id"], data, chunk=4096)
    assert (await EvidenceAttachment.get(id=named["id"])).status == EvidenceStatus.RECEIVED


async def test_a_photo_that_is_no_image_is_refused_and_starts_again(client, company):
    data = b"\xff\xd8 not really a jpeg" * 10
    named = attachment(data)
    token, _ = await logged_with(client, company, [named])
    refused = await patch(client, token, named["id"], 0, data)
    assert refused.status_code == 422 and refused.json()["errors"][0]["extensions"]["code"] == "EVIDENCE_UNREADABLE"
    row = await EvidenceAttachment.get(id=named["id"])
    assert (row.status, row.received_bytes) == (EvidenceStatus.PENDING, 0)


async def test_chunks_over_the_limit_or_past_the_declared_size_are_413(client, company, test_settings):
    limit = test_settings.evidence_chunk_max_bytes
    data = b"\0" * (limit + 10)
    named = attachment(data, "video/mp4", "操作.mp4")
    token, _ = await logged_with(client, company, [named])
    assert (await patch(client, token, named["id"], 0, data, checksum=False)).status_code == 413
    small = attachment(pdf_bytes("tiny"), "application/pdf")
    token, _ = await logged_with(client, company, [small], token=token, seq=2)
    past = await patch(client, token, small["id"], 0, pdf_bytes("tiny plus more"))
    assert past.status_code == 413
    assert (await head(client, token, named["id"])).headers["Upload-Offset"] == "0"
    assert (await head(client, token, small["id"])).headers["Upload-Offset"] == "0"


async def test_only_the_attachments_employee_may_upload(client, company, password_hash):
    data = pdf_bytes("mine")
    named = attachment(data, "application/pdf")
    token, _ = await logged_with(client, company, [named])
    colleague = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    assert (await head(client, colleague, named["id"])).status_code == 403
    assert (await patch(client, colleague, named["id"], 0, data)).status_code == 403
    other = await make_company(password_hash)
    stranger = await token_for(client, other.code, "LRN")
    assert (await head(client, stranger, named["id"])).status_code == 404
    assert (await patch(client, stranger, named["id"], 0, data)).status_code == 404
    assert (await head(client, token, str(uuid.uuid4()))).status_code == 404
    assert (await head(client, token, "../../etc/passwd")).status_code == 404
    assert (await client.head(f"/evidence/{named['id']}", headers=TUS)).status_code == 401
    bad_token = {**TUS, "Authorization": "Bearer nonsense"}
    assert (await client.head(f"/evidence/{named['id']}", headers=bad_token)).status_code == 401
    assert (
        await client.head(f"/evidence/{named['id']}", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 412
    wrong_type = await patch(client, token, named["id"], 0, data, **{"Content-Type": "application/pdf"})
    assert wrong_type.status_code == 415
    assert not await EvidenceChunk.filter(attachment_id=named["id"]).exists()
    options = await client.options(f"/evidence/{named['id']}")
    assert options.status_code == 204 and options.headers["Tus-Version"] == "1.0.0"
    assert options.headers["Tus-Extension"] == "checksum" and options.headers["Tus-Checksum-Algorithm"] == "sha256"
    assert options.headers["Tus-Max-Size"] == str(100 * 1024 * 1024)


async def test_two_patches_at_one_offset_append_once(client, company):
    data = pdf_bytes("") + bytes(range(256)) * 64
    named = attachment(data, "application/pdf")
    token, _ = await logged_with(client, company, [named])
    same = await asyncio.gather(*(patch(client, token, named["id"], 0, data[:4096]) for _ in range(4)))
    assert [a.status_code for a in same] == [204] * 4 and {a.headers["Upload-Offset"] for a in same} == {"4096"}
    assert await EvidenceChunk.filter(attachment_id=named["id"]).count() == 1
    # Two devices with different bytes at one offset: one appends, the other is told the offset.
    racing = await asyncio.gather(
        patch(client, token, named["id"], 4096, data[4096:8192]), patch(client, token, named["id"], 4096, b"y" * 4096)
    )
    assert sorted(a.status_code for a in racing) == [204, 409]
    assert (await EvidenceAttachment.get(id=named["id"])).received_bytes == 8192
    assert await EvidenceChunk.filter(attachment_id=named["id"]).count() == 2


async def test_one_attachment_id_belongs_to_one_record(client, company, password_hash):
    named = attachment(pdf_bytes("once"), "application/pdf")
    module = await practice_module(company)
    token = await token_for(client, company.code, "LRN")
    first = practice_record(module, 1, [named])
    results = await push(client, token, [first])
    assert results[0]["status"] == "ACCEPTED"
    # A retry of the same record is a duplicate (never "taken"); another record naming it is refused.
    results = await push(client, token, [first, practice_record(module, 2, [named])])
    assert results[0]["status"] == "DUPLICATE"
    assert (results[1]["status"], results[1]["code"]) == ("REJECTED", "ATTACHMENT_TAKEN")
    # In one batch too: the second record naming a new id is refused.
    fresh = attachment(pdf_bytes("fresh"), "application/pdf")
    results = await push(client, token, [practice_record(module, 3, [fresh]), practice_record(module, 4, [fresh])])
    assert [(r["status"], r["code"]) for r in results] == [("ACCEPTED", None), ("REJECTED", "ATTACHMENT_TAKEN")]
    # Another company's employee cannot take it either (and learns nothing of whose it is).
    other = await make_company(password_hash)
    theirs = await token_for(client, other.code, "LRN")
    result = (await push(client, theirs, [practice_record(await practice_module(other), 1, [named])]))[0]
    assert (result["status"], result["code"]) == ("REJECTED", "ATTACHMENT_TAKEN")
    assert await EvidenceAttachment.filter(id=named["id"]).count() == 1
    assert str((await EvidenceAttachment.get(id=named["id"])).record_id) == first["id"]


async def test_pushes_with_attachments_cost_the_same_statements_whatever_their_size(client, company):
    token = await token_for(client, company.code, "LRN")
    module = await practice_module(company)

    async def statements(first_seq: int, count: int) -> int:
        records = [
            practice_record(module, first_seq + i, [attachment(pdf_bytes(str(first_seq + i)), "application/pdf")])
            for i in range(count)
        ]
        with count_queries() as seen:
            results = await push(client, token, records)
        assert {r["status"] for r in results} == {"ACCEPTED"}
        return len(seen)

    await statements(1, 1)  # warm-up: the first push of a device reads more
    assert await statements(2, 1) == await statements(3, 8)


async def test_evaluation_evidence_named_again_by_the_next_draft_is_the_same_attachment(client, company):
    module = await CourseModule.create(
        tenant=company.tenant,
        course=company.courses["S-002"],
        position=3,
        title="客户拜访考核",
        kind=ModuleKind.ASSESSMENT,
        required_count=1,
        rubric=company.rubrics["ROLEPLAY"],
        pass_score=70,
    )
    mentor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    uid = str(uuid.uuid4())
    named = attachment(pdf_bytes("scored"), "application/pdf", "评分依据.pdf")

    def write(base: int, seq: int, submit: bool) -> dict:
        return {
            "id": str(uuid.uuid4()),
            "seq": seq,
            "kind": "MENTOR_EVALUATION",
            "occurredAt": AN_HOUR_AGO.isoformat(),
            "payload": {
                "evaluationId": uid,
                "menteeId": gid("Employee", company.employees["LRN"].id),
                "moduleId": gid("CourseModule", module.id),
                "baseVersion": base,
                "scores": {},
                "comment": "",
                "submit": submit,
                "attachments": [named],
            },
        }

    results = await push(client, mentor, [write(0, 1, False), write(1, 2, False)], device="mgr-phone")
    assert [r["status"] for r in results] == ["ACCEPTED", "ACCEPTED"], results
    assert await EvidenceAttachment.filter(id=named["id"]).count() == 1
    query = "query E($id: ID!) { evaluation(id: $id) { id evidence { id status fileName } } }"
    shown = (await gql(client, query, {"id": uid}, token=mentor))["data"]["evaluation"]["evidence"]
    assert shown == [{"id": named["id"], "status": "PENDING", "fileName": "评分依据.pdf"}]
    changes = (await gql(client, PULL, pull_input(device_id="mgr-phone"), token=mentor))["data"]["syncPull"]["changes"]
    row = next(c for c in changes if c["entity"] == "MENTOR_EVALUATION" and c["id"] == uid)
    assert [e["id"] for e in row["data"]["evidence"]] == [named["id"]]


async def test_check_out_evidence_shows_on_the_roster(client, company):
    instructor = company.employees["MGR"]
    await EmployeeRole.create(tenant=company.tenant, employee=instructor, role=Role.INSTRUCTOR)
    now = datetime.now(UTC)
    session = await TrainingSession.create(
        tenant=company.tenant,
        course=company.courses["S-001"],
        title="销售基础 · 第一期",
        instructor=instructor,
        site=company.sites["hq"],
        starts_at=now - timedelta(hours=2),
        ends_at=now,
        capacity=20,
        secret="00" * 32,
    )
    await Attendance.create(
        tenant=company.tenant,
        session=session,
        employee=company.employees["LRN"],
        status=AttendanceStatus.PRESENT,
        checked_in_at=now - timedelta(hours=2),
    )
    token = await token_for(client, company.code, "LRN")
    named = attachment(pdf_bytes("sign-off"), "application/pdf", "签退单.pdf")
    record = {
        "id": str(uuid.uuid4()),
        "seq": 1,
        "kind": "CHECK_OUT",
        "occurredAt": (now - timedelta(minutes=5)).isoformat(),
        "payload": {"sessionId": gid("TrainingSession", session.id), "attachments": [named]},
    }
    assert (await push(client, token, [record]))[0]["status"] == "ACCEPTED"
    roster = """query R($id: ID!) { sessionRoster(sessionId: $id) { entries { employee { employeeNo }
      evidence { id status url } } } }"""
    teacher = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    entries = (await gql(client, roster, {"id": gid("TrainingSession", session.id)}, token=teacher))["data"][
        "sessionRoster"
    ]["entries"]
    assert [e["evidence"] for e in entries if e["employee"]["employeeNo"] == "LRN"] == [
        [{"id": named["id"], "status": "PENDING", "url": None}]
    ]
    await upload(client, token, named["id"], pdf_bytes("sign-off"))
    entries = (await gql(client, roster, {"id": gid("TrainingSession", session.id)}, token=teacher))["data"][
        "sessionRoster"
    ]["entries"]
    shown = next(e for e in entries if e["employee"]["employeeNo"] == "LRN")["evidence"][0]
    assert shown["status"] == "RECEIVED" and shown["url"].startswith("/media/")


async def test_evidence_is_shown_to_the_people_it_concerns_only(client, company):
    named = attachment(pdf_bytes("private"), "application/pdf")
    await logged_with(client, company, [named])
    learner = company.employees["LRN"]
    for employee_no, device, expected in (("LRN", "device-1", 1), ("HR1", "hr-phone", 1), ("MGR", "mgr-phone", 1)):
        viewer = await token_for(client, company.code, employee_no, device_id=device)
        body = await gql(client, LOGS, {"employeeId": gid("Employee", learner.id)}, token=viewer)
        edges = body["data"]["practiceLogs"]["edges"]
        assert len(edges[0]["node"]["evidence"]) == expected, (employee_no, body)
    # MGR is LRN's manager too; once the mentorship ends, the manager still reads the log but no
    # longer sees the evidence.
    await Mentorship.filter(tenant_id=company.tenant.id).update(ends_on=datetime.now(UTC).date() - timedelta(days=2))
    manager = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    body = await gql(client, LOGS, {"employeeId": gid("Employee", learner.id)}, token=manager)
    assert body["data"]["practiceLogs"]["edges"][0]["node"]["evidence"] == []


def filmed_in_shanghai(directory) -> bytes:
    """A one-second phone-like video that says where it was filmed."""
    path = directory / "filmed.mp4"
    generate = ["-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=10"]
    encode = ["-metadata", "location=+31.2304+121.4737/", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *generate, *encode, str(path)], check=True)
    return path.read_bytes()


def format_tags(path) -> dict:
    probe = subprocess.run(
        ["ffprobe", "-loglevel", "error", "-show_entries", "format_tags", "-of", "json", str(path)],
        check=True,
        capture_output=True,
    )
    return json.loads(probe.stdout).get("format", {}).get("tags", {})


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (CI installs it)")
@pytest.mark.parametrize("keep", [False, True])
async def test_a_video_loses_where_it_was_filmed_unless_the_company_keeps_it(
    client, company, test_settings, tmp_path, keep
):
    await Tenant.filter(id=company.tenant.id).update(keep_photo_location=keep)
    data = filmed_in_shanghai(tmp_path)
    assert format_tags(tmp_path / "filmed.mp4")["location"] == "+31.2304+121.4737/"
    named = attachment(data, "video/mp4", "操作演示.mp4")
    token, _ = await logged_with(client, company, [named])
    await upload(client, token, named["id"], data, chunk=2048)
    row = await EvidenceAttachment.get(id=named["id"]).select_related("media")
    assert row.status == EvidenceStatus.RECEIVED and row.media.mime_type == "video/mp4"
    stored = media_store(test_settings).local_path(row.media.sha256)
    assert ("location" in format_tags(stored)) is keep
    assert (row.media.sha256 == named["sha256"]) is keep  # kept as sent, or remuxed


async def test_online_practice_names_evidence_like_a_synced_record(client, company):
    module = await practice_module(company)
    named = attachment(pdf_bytes("online"), "application/pdf", "在线.pdf")
    token = await token_for(client, company.code, "LRN")
    mutation = """mutation L($input: LogPracticeInput!) { logPractice(input: $input) {
      result { id status code } errors { code } } }"""
    body = await gql(
        client,
        mutation,
        {"input": {"moduleId": gid("CourseModule", module.id), "attachments": [named]}},
        token=token,
    )
    result = body["data"]["logPractice"]["result"]
    assert result["status"] == "ACCEPTED", body
    row = await EvidenceAttachment.get(id=named["id"])
    assert str(row.record_id) == result["id"] and row.file_name == "在线.pdf"
    heic = attachment(b"ftypheic", "image/heic", "IMG_0001.HEIC")
    body = await gql(
        client,
        mutation,
        {"input": {"moduleId": gid("CourseModule", module.id), "attachments": [heic]}},
        token=token,
    )
    assert (body["data"]["logPractice"]["result"]["status"], body["data"]["logPractice"]["result"]["code"]) == (
        "REJECTED",
        "INVALID_PAYLOAD",
    )


@pytest.mark.postgres_only
async def test_two_server_processes_take_every_chunk_once(client, company, database_url, test_settings):
    """Each chunk, and the last one that completes the upload, sent to two `xuefen serve` processes
    on one PostgreSQL at the same moment, twice each: every answer is 204, the upload ends RECEIVED
    once, with its bytes as sent."""
    data = photo(1600, 1200, orientation=1)
    named = attachment(data)
    token, _ = await logged_with(client, company, [named])
    environment = {"XUEFEN_SECRET_KEY": test_settings.secret_key, "XUEFEN_MEDIA_DIR": test_settings.media_dir}
    chunk = 64 * 1024
    with Served(database_url, **environment) as first, Served(database_url, **environment) as second:
        async with httpx.AsyncClient(timeout=60) as http:
            for offset in range(0, len(data), chunk):
                piece = data[offset : offset + chunk]
                headers = {
                    **auth(token),
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": str(offset),
                }
                answers = await asyncio.gather(
                    *(
                        http.patch(f"{server.url}/evidence/{named['id']}", content=piece, headers=headers)
                        for server in (first, second, first, second)
                    )
                )
                assert [a.status_code for a in answers] == [204] * 4, [a.text for a in answers]
                assert {a.headers["Upload-Offset"] for a in answers} == {str(min(offset + chunk, len(data)))}
    row = await EvidenceAttachment.get(id=named["id"]).select_related("media")
    assert row.status == EvidenceStatus.RECEIVED and row.received_bytes == len(data)
    assert not await EvidenceChunk.filter(attachment_id=row.id).exists()
    assert await MediaObject.filter(tenant_id=company.tenant.id).count() == 1


async def test_evidence_is_typed_from_its_bytes_before_any_decoder_or_ffmpeg_sees_it(client, company, test_settings):
    # An HLS playlist declared as a video would make ffmpeg read files off the server's disk; a PDF
    # declared as audio would give the company's media row of those bytes the wrong type.
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1.0,\n/etc/hostname.ts\n#EXT-X-ENDLIST\n" * 3
    disguised = [attachment(playlist, "video/mp4", "clip.mp4"), attachment(pdf_bytes("not audio"), "audio/mpeg")]
    token, _ = await logged_with(client, company, disguised)
    for named, data in zip(disguised, (playlist, pdf_bytes("not audio")), strict=True):
        refused = await patch(client, token, named["id"], 0, data)
        assert refused.status_code == 422 and refused.headers["Upload-Offset"] == "0", refused.text
        assert refused.json()["errors"][0]["extensions"]["code"] == "EVIDENCE_UNREADABLE"
        row = await EvidenceAttachment.get(id=named["id"])
        assert (row.status, row.received_bytes, row.media_id) == (EvidenceStatus.PENDING, 0, None)
    assert not await MediaObject.filter(tenant_id=company.tenant.id, sha256=disguised[1]["sha256"]).exists()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # what the refusal is about
async def test_a_small_file_of_enormous_dimensions_is_refused_before_it_is_decoded(client, company):
    out = io.BytesIO()
    Image.new("1", (12000, 12000)).save(out, "PNG")  # 144 megapixels in a few hundred KB
    data = out.getvalue()
    named = attachment(data, "image/png", "截图.png")
    token, _ = await logged_with(client, company, [named])
    refused = await upload_refused(client, token, named["id"], data)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["extensions"]["code"] == "EVIDENCE_UNREADABLE"


async def upload_refused(client, token, attachment_id, data, chunk=64 * 1024):
    """Send ``data`` in chunks until one is refused; that answer."""
    for offset in range(0, len(data), chunk):
        answer = await patch(client, token, attachment_id, offset, data[offset : offset + chunk])
        if answer.status_code != 204:
            return answer
    raise AssertionError("every chunk was taken")


async def test_abandoned_partial_uploads_give_their_space_back(client, company):
    data = pdf_bytes("abandoned", padding=200_000)
    stale, fresh = (
        attachment(data, "application/pdf"),
        attachment(pdf_bytes("fresh", padding=200_000), "application/pdf"),
    )
    token, _ = await logged_with(client, company, [stale, fresh])
    for named in (stale, fresh):
        assert (await patch(client, token, named["id"], 0, data[:65536])).status_code == 204
    long_ago = datetime.now(UTC) - timedelta(days=31)
    await EvidenceAttachment.filter(id=stale["id"]).update(created_at=long_ago)
    assert await evidence_upload.purge_stale_uploads(timedelta(days=30)) == 1
    assert not await EvidenceChunk.filter(attachment_id=stale["id"]).exists()
    assert await EvidenceChunk.filter(attachment_id=fresh["id"]).exists()
    # The phone comes back: HEAD says 0, and the whole file is sent again.
    assert (await head(client, token, stale["id"])).headers["Upload-Offset"] == "0"
    await upload(client, token, stale["id"], data)
    assert (await EvidenceAttachment.get(id=stale["id"])).status == EvidenceStatus.RECEIVED
    assert await evidence_upload.purge_stale_uploads(timedelta(days=30)) == 0  # received ones are kept
