"""Lesson content authoring, uploads, the course download manifest in the feed and courseDownload,
through the real ASGI app over HTTP (GraphQL multipart requests with httpx), and `xuefen content add`.

Files are real: PDFs by pypdf, PNGs by Pillow, a one-second MP4 by ffmpeg (when installed)."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest
from PIL import Image

from backend.app import create_app
from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import (
    AuditEntry,
    Course,
    CourseModule,
    CourseStatus,
    Employee,
    EmployeeRole,
    LessonContent,
    LessonFile,
    MediaObject,
    MediaRendition,
    Role,
    TrainingSession,
)
from backend.services.content import lessons, renditions
from backend.services.content.course_downloads import manifests_of
from backend.services.content.media_links import read_media_key
from backend.services.content.storage import media_store
from tests.conftest import count_queries
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, pull_input

FILE_FIELDS = """
  id title position kind mimeType fileName sizeBytes sha256 durationSeconds pageCount width height sinceVersion
  renditions { label status sizeBytes sha256 mimeType }
"""
LESSON_FIELDS = f"moduleId version html markdown requiredStudyPercent files {{ {FILE_FIELDS} }}"

ADD = f"""
mutation Add($input: AddLessonFilesInput!) {{
  addLessonFiles(input: $input) {{ lesson {{ {LESSON_FIELDS} }} errors {{ code message field }} }}
}}
"""
TEXT = f"""
mutation Text($id: ID!, $markdown: String!) {{
  updateLessonText(moduleId: $id, markdown: $markdown) {{ lesson {{ {LESSON_FIELDS} }} errors {{ code message field }} }}
}}
"""
RENAME = f"""
mutation Rename($id: ID!, $title: String!) {{
  renameLessonFile(fileId: $id, title: $title) {{ lesson {{ {LESSON_FIELDS} }} errors {{ code field }} }}
}}
"""
MOVE = f"""
mutation Move($id: ID!, $position: Int!) {{
  moveLessonFile(fileId: $id, position: $position) {{ lesson {{ {LESSON_FIELDS} }} errors {{ code field }} }}
}}
"""
REMOVE = f"""
mutation Remove($id: ID!) {{
  removeLessonFile(fileId: $id) {{ lesson {{ {LESSON_FIELDS} }} errors {{ code field }} }}
}}
"""
STUDY_BAR = """
mutation Bar($id: ID!, $percent: Int) {
  setStudyRequirement(moduleId: $id, percent: $percent) { lesson { requiredStudyPercent } errors { code field } }
}
"""
LESSON = f"query Lesson($id: ID!) {{ lessonContent(moduleId: $id) {{ {LESSON_FIELDS} }} }}"
DOWNLOAD = """
query Download($id: ID!, $low: Boolean!) {
  courseDownload(courseId: $id, lowBandwidth: $low) {
    courseId lowBandwidth totalBytes lowBandwidthBytes
    modules { moduleId position title version html requiredStudyPercent
              files { id title sha256 sizeBytes kind url urlExpiresAt sinceVersion
                      renditions { label status sha256 sizeBytes url } } }
  }
}
"""


def pdf(pages: int = 2, marker: str = "") -> bytes:
    writer = pypdf.PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(200, 200)
    writer.add_metadata({"/Title": marker or "lesson"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png(width: int = 30, height: int = 20, colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 500
CORRUPT_PDF = b"%PDF-1.4\n" + b"not really a pdf " * 50
CORRUPT_PNG = png()[:40] + b"\x00garbage" * 20


def mp4(tmp_path: Path) -> bytes:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    out = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=1",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-shortest", "-c:v", "libx264", "-c:a", "aac",
         "-pix_fmt", "yuv420p", str(out)],
        check=True,
        timeout=60,
    )  # fmt: skip
    return out.read_bytes()


def gid(type_name: str, row_id: int) -> str:
    return to_global_id(type_name, row_id)


async def upload(
    client: httpx.AsyncClient,
    token: str | None,
    module_id: int,
    files: list[tuple[str, bytes]],
    titles: list[str] | None = None,
    position: int | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """addLessonFiles as a GraphQL multipart request (operations, map, then the files)."""
    variables = {
        "input": {"moduleId": gid("CourseModule", module_id), "files": [None] * len(files), "titles": titles or []}
    }
    if position is not None:
        variables["input"]["position"] = position
    form = {
        "operations": json.dumps({"query": ADD, "variables": variables}),
        "map": json.dumps({str(i): [f"variables.input.files.{i}"] for i in range(len(files))}),
    }
    sent = {"GraphQL-Preflight": "1", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    # The client's MIME type is a lie on purpose: the server reads the bytes.
    parts = {str(i): (name, content, "video/mp4") for i, (name, content) in enumerate(files)}
    return await client.post("/graphql", data=form, files=parts, headers=sent)


async def added(client, token, module_id, files, **options) -> dict[str, Any]:
    response = await upload(client, token, module_id, files, **options)
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["addLessonFiles"]
    assert payload["errors"] == [], payload
    return payload["lesson"]


async def call(client, token, query, name, **variables) -> dict[str, Any]:
    body = await gql(client, query, variables, token=token, language="en")
    assert "errors" not in body, body
    return body["data"][name]


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash)


@pytest.fixture
async def modules(company) -> dict[str, CourseModule]:
    """The LESSON (position 1) and PRACTICE (2) modules of S-001 (published), S-003 and S-007 (draft)."""
    found = {}
    for code in ("S-001", "S-003", "S-007"):
        for module in await CourseModule.filter(course_id=company.courses[code].id):
            found[f"{code}/{module.position}"] = module
    return found


async def make_instructor(company: Company, course_code: str = "S-001") -> Employee:
    """MGR as an instructor with a training session of ``course_code``."""
    instructor = company.employees["MGR"]
    await EmployeeRole.get_or_create(tenant=company.tenant, employee=instructor, role=Role.INSTRUCTOR)
    now = datetime.now(UTC)
    await TrainingSession.create(
        tenant=company.tenant,
        course=company.courses[course_code],
        title="销售基础 · 第一期",
        instructor=instructor,
        site=company.sites["hq"],
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=2),
        capacity=20,
        secret="s" * 64,
    )
    return instructor


def spool_files(settings) -> list[Path]:
    spool = media_store(settings).spool_dir
    return [p for p in spool.iterdir() if p.is_file()] if spool.exists() else []


# --- uploads -----------------------------------------------------------------------------------------


async def test_hr_uploads_files_whose_type_is_read_from_their_bytes_and_the_same_bytes_are_kept_once(
    client, company, modules, test_settings
):
    token = await token_for(client, company.code, "HR1")
    lesson_pdf, picture = pdf(3), png(30, 20)
    lesson = await added(
        client,
        token,
        modules["S-001/1"].id,
        [("视频.mp4", lesson_pdf), ("图.png", picture), ("notes.md", "# 要点\n- 安全第一".encode())],
        titles=["操作手册", ""],
    )
    assert lesson["version"] == 1  # the first content of a published course's module
    kinds = [(f["title"], f["kind"], f["mimeType"], f["position"]) for f in lesson["files"]]
    assert kinds == [
        ("操作手册", "PDF", "application/pdf", 1),  # an .mp4 name and MIME on PDF bytes is a PDF
        ("图", "IMAGE", "image/png", 2),  # no title: the name without its extension
        ("notes", "FILE", "text/markdown", 3),
    ]
    first, image = lesson["files"][0], lesson["files"][1]
    assert first["pageCount"] == 3 and first["sizeBytes"] == len(lesson_pdf) and first["fileName"] == "视频.mp4"
    assert (image["width"], image["height"]) == (30, 20) and image["sinceVersion"] == 1
    store = media_store(test_settings)
    assert await store.has(first["sha256"]) and await store.has(image["sha256"])

    # The same bytes again (another course's module): one object, one row of the company.
    again = await added(client, token, modules["S-003/1"].id, [("again.pdf", lesson_pdf)])
    assert again["files"][0]["sha256"] == first["sha256"]
    assert await MediaObject.filter(tenant_id=company.tenant.id, sha256=first["sha256"]).count() == 1
    assert spool_files(test_settings) == []
    audit = await AuditEntry.filter(tenant_id=company.tenant.id, action="lesson.files_add").order_by("id").first()
    assert audit is not None and audit.actor_id == company.employees["HR1"].id
    assert [f["title"] for f in audit.details["after"]["files"]] == ["操作手册", "图", "notes"]


async def test_instructors_upload_to_the_courses_they_teach_only(client, company, modules):
    await make_instructor(company, "S-001")
    token = await token_for(client, company.code, "MGR")
    lesson = await added(client, token, modules["S-001/1"].id, [("a.pdf", pdf(1))])
    assert [f["kind"] for f in lesson["files"]] == ["PDF"]
    refused = await upload(client, token, modules["S-003/1"].id, [("b.pdf", pdf(1, "b"))])
    assert refused.status_code == 403, refused.text  # before its file is read
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert not await LessonContent.filter(module_id=modules["S-003/1"].id).exists()


async def test_employees_mentors_and_strangers_are_refused_before_the_body_is_read(
    client, company, modules, password_hash
):
    module_id = modules["S-001/1"].id
    for employee_no in ("LRN", "MGR"):  # a learner; a manager and mentor who teaches nothing
        token = await token_for(client, company.code, employee_no)
        response = await upload(client, token, module_id, [("a.pdf", pdf(1))])
        assert response.status_code == 403, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await upload(client, None, module_id, [("a.pdf", pdf(1))])
    assert anonymous.status_code == 401
    no_preflight = await upload(
        client, await token_for(client, company.code, "HR1"), module_id, [("a.pdf", pdf(1))],
        headers={"GraphQL-Preflight": ""},
    )  # fmt: skip
    assert no_preflight.status_code == 400
    other = await make_company(password_hash)
    other_token = await token_for(client, other.code, "HR1")
    response = await upload(client, other_token, module_id, [("a.pdf", pdf(1))])
    assert response.status_code == 404, response.text
    assert response.json()["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "moduleId"}
    # A JSON request carries no files: VALIDATION, nothing stored.
    body = await gql(
        client, ADD, {"input": {"moduleId": gid("CourseModule", module_id), "files": []}},
        token=await token_for(client, company.code, "HR1"),
    )  # fmt: skip
    assert body["data"]["addLessonFiles"]["errors"][0]["code"] == "VALIDATION"
    assert not await LessonContent.filter(module_id=module_id).exists()


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ([("setup.exe", ELF)], "UNSUPPORTED_MEDIA_TYPE"),
        ([("page.html", b"<html><script>alert(1)</script></html>")], "UNSUPPORTED_MEDIA_TYPE"),
        ([("a.gz", b"\x1f\x8b\x08" + b"\x00" * 100)], "UNSUPPORTED_MEDIA_TYPE"),
        ([("manual.pdf", CORRUPT_PDF)], "CORRUPT_FILE"),
        ([("photo.png", CORRUPT_PNG)], "CORRUPT_FILE"),
        ([("good.pdf", pdf(1, "good")), ("setup.exe", ELF)], "UNSUPPORTED_MEDIA_TYPE"),  # one refused: none kept
    ],
)
async def test_refused_files_leave_nothing_behind(client, company, modules, test_settings, files, code):
    token = await token_for(client, company.code, "HR1")
    response = await upload(client, token, modules["S-001/1"].id, files)
    errors = response.json()["data"]["addLessonFiles"]["errors"]
    assert [e["code"] for e in errors] == [code], errors
    assert errors[0]["message"]
    assert not await MediaObject.filter(tenant_id=company.tenant.id).exists()
    assert not await LessonContent.filter(module_id=modules["S-001/1"].id).exists()
    assert spool_files(test_settings) == []


async def test_a_file_over_the_limit_is_refused_while_it_streams(
    company, modules, database_url, test_settings, tmp_path
):
    settings = dataclasses.replace(
        test_settings.with_overrides(database_url=database_url), media_dir=str(tmp_path), media_max_bytes=2000
    )
    app = create_app(settings, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://xuefen.test") as small:
        token = await token_for(small, company.code, "HR1")
        response = await upload(small, token, modules["S-001/1"].id, [("big.pdf", pdf(1) + b"%" * 3000)])
        errors = response.json()["data"]["addLessonFiles"]["errors"]
        assert [e["code"] for e in errors] == ["PAYLOAD_TOO_LARGE"], errors
        # Past the request's own bound (the largest upload limit + 1 MiB): 413 from the middleware.
        huge = await upload(
            small, token, modules["S-001/1"].id, [("huge.pdf", b"%" * (settings.import_max_bytes + 2**21))]
        )
        assert huge.status_code == 413
    assert not await MediaObject.filter(tenant_id=company.tenant.id).exists()
    assert spool_files(settings) == []


# --- text, versions, order -------------------------------------------------------------------------


async def test_lesson_text_is_sanitised_and_markdown_is_for_authors_only(client, company, modules):
    hr = await token_for(client, company.code, "HR1")
    module_id = gid("CourseModule", modules["S-001/1"].id)
    markdown = "# 安全须知\n\n**戴好安全帽**<script>alert(1)</script>\n\n[x](javascript:alert(1)) ![图](media:1)"
    lesson = await call(client, hr, TEXT, "updateLessonText", id=module_id, markdown=markdown)
    assert lesson["lesson"]["markdown"] == markdown
    html = lesson["lesson"]["html"]
    assert "<h1>安全须知</h1>" in html and "<strong>戴好安全帽</strong>" in html and 'src="media:1"' in html
    assert "<script" not in html and "alert(1)</" not in html and "href" not in html  # the link stays text
    learner = await token_for(client, company.code, "LRN")
    seen = await call(client, learner, LESSON, "lessonContent", id=module_id)
    assert seen["markdown"] is None and seen["html"] == html
    too_long = await call(client, hr, TEXT, "updateLessonText", id=module_id, markdown="字" * 200_001)
    assert too_long["errors"][0]["code"] == "VALIDATION"
    forbidden = await gql(client, TEXT, {"id": module_id, "markdown": "x"}, token=learner)
    assert forbidden["data"]["updateLessonText"]["errors"][0]["code"] == "FORBIDDEN"


async def test_a_draft_is_edited_in_place_a_published_course_gets_new_versions(client, company, modules):
    hr = await token_for(client, company.code, "HR1")
    draft = modules["S-007/1"]
    first = await added(client, hr, draft.id, [("a.pdf", pdf(1, "a")), ("b.png", png())])
    await call(client, hr, TEXT, "updateLessonText", id=gid("CourseModule", draft.id), markdown="正文")
    second = (await call(client, hr, RENAME, "renameLessonFile", id=first["files"][1]["id"], title="示意图"))["lesson"]
    assert second["version"] == 1 and [f["sinceVersion"] for f in second["files"]] == [1, 1]
    assert await LessonContent.filter(module_id=draft.id).count() == 1
    assert second["files"][0]["id"] == first["files"][0]["id"]  # edited in place: the same rows

    await Course.filter(id=draft.course_id).update(status=CourseStatus.PUBLISHED)
    renamed = (await call(client, hr, RENAME, "renameLessonFile", id=second["files"][0]["id"], title="手册"))["lesson"]
    assert renamed["version"] == 2 and renamed["markdown"] == "正文"
    assert [(f["title"], f["sinceVersion"]) for f in renamed["files"]] == [("手册", 2), ("示意图", 1)]
    grown = await added(client, hr, draft.id, [("c.pdf", pdf(2, "c"))], position=1)
    assert grown["version"] == 3
    assert [(f["title"], f["sinceVersion"], f["position"]) for f in grown["files"]] == [
        ("c", 3, 1),
        ("手册", 2, 2),
        ("示意图", 1, 3),
    ]
    # What learners studied stays: version 1 still has its two files under their old titles.
    v1 = await LessonContent.get(module_id=draft.id, version=1)
    assert sorted(await LessonFile.filter(content_id=v1.id).values_list("title", flat=True)) == ["a", "示意图"]
    # A file of an older version is not the one to change.
    stale = await call(client, hr, RENAME, "renameLessonFile", id=first["files"][0]["id"], title="x")
    assert stale["errors"] == [{"code": "NOT_FOUND", "field": "fileId"}]
    moved = (await call(client, hr, MOVE, "moveLessonFile", id=grown["files"][0]["id"], position=3))["lesson"]
    assert [f["title"] for f in moved["files"]] == ["手册", "示意图", "c"] and moved["version"] == 4
    assert [f["sinceVersion"] for f in moved["files"]] == [2, 1, 3]  # moving changes no file
    same = (await call(client, hr, MOVE, "moveLessonFile", id=moved["files"][2]["id"], position=3))["lesson"]
    assert same["version"] == 4  # no change, no version
    bad = await call(client, hr, MOVE, "moveLessonFile", id=moved["files"][0]["id"], position=4)
    assert bad["errors"][0]["code"] == "VALIDATION"
    removed = (await call(client, hr, REMOVE, "removeLessonFile", id=moved["files"][0]["id"]))["lesson"]
    assert [(f["title"], f["position"]) for f in removed["files"]] == [("示意图", 1), ("c", 2)]
    assert removed["version"] == 5


async def test_study_requirement_on_lesson_modules(client, company, modules):
    hr = await token_for(client, company.code, "HR1")
    lesson_id, practice_id = gid("CourseModule", modules["S-001/1"].id), gid("CourseModule", modules["S-001/2"].id)
    done = await call(client, hr, STUDY_BAR, "setStudyRequirement", id=lesson_id, percent=90)
    assert done == {"lesson": {"requiredStudyPercent": 90}, "errors": []}
    assert (await CourseModule.get(id=modules["S-001/1"].id)).required_study_percent == 90
    for percent in (0, 101, -5):
        refused = await call(client, hr, STUDY_BAR, "setStudyRequirement", id=lesson_id, percent=percent)
        assert refused["errors"][0]["code"] == "VALIDATION"
    practice = await call(client, hr, STUDY_BAR, "setStudyRequirement", id=practice_id, percent=50)
    assert practice["errors"] == [{"code": "VALIDATION", "field": "moduleId"}]
    cleared = await call(client, hr, STUDY_BAR, "setStudyRequirement", id=lesson_id, percent=None)
    assert cleared["lesson"]["requiredStudyPercent"] is None
    learner = await token_for(client, company.code, "LRN")
    refused = await gql(client, STUDY_BAR, {"id": lesson_id, "percent": 10}, token=learner)
    assert refused["data"]["setStudyRequirement"]["errors"][0]["code"] == "FORBIDDEN"


# --- the feed and courseDownload ----------------------------------------------------------------------


async def pull_all(client, token, cursor=None, device_id="device-1") -> tuple[list[dict[str, Any]], str]:
    changes: list[dict[str, Any]] = []
    while True:
        body = await gql(client, PULL, pull_input(cursor, device_id=device_id), token=token)
        page = body["data"]["syncPull"]
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return changes, cursor


def content_rows(changes, course_id: int) -> list[dict[str, Any]]:
    return [c for c in changes if c["entity"] == "COURSE_CONTENT" and c["id"] == gid("Course", course_id)]


async def test_the_manifest_reaches_phones_in_the_feed_and_says_what_changed(client, company, modules):
    hr = await token_for(client, company.code, "HR1")
    learner = await token_for(client, company.code, "LRN")
    course = company.courses["S-001"]
    _, cursor = await pull_all(client, learner)
    lesson = await added(client, hr, modules["S-001/1"].id, [("a.pdf", pdf(2, "m1")), ("b.png", png(8, 8))])
    changes, cursor = await pull_all(client, learner, cursor)
    [row] = content_rows(changes, course.id)
    data = row["data"]
    assert data["totalBytes"] == sum(f["sizeBytes"] for f in lesson["files"]) == data["lowBandwidthBytes"]
    first = data["modules"][0]
    assert (first["moduleId"], first["version"], first["position"]) == (
        gid("CourseModule", modules["S-001/1"].id),
        1,
        1,
    )
    assert [(f["sha256"], f["sinceVersion"], f["kind"]) for f in first["files"]] == [
        (f["sha256"], 1, f["kind"]) for f in lesson["files"]
    ]
    assert "url" not in json.dumps(data)  # links expire: the app asks courseDownload
    assert data["modules"][1]["files"] == [] and data["modules"][1]["version"] is None

    await call(client, hr, RENAME, "renameLessonFile", id=lesson["files"][1]["id"], title="新图")
    changes, cursor = await pull_all(client, learner, cursor)
    [row] = content_rows(changes, course.id)
    files = row["data"]["modules"][0]["files"]
    assert row["data"]["modules"][0]["version"] == 2
    assert [(f["title"], f["sinceVersion"]) for f in files] == [("a", 1), ("新图", 2)]  # only b changed

    # A draft's manifest is HR's and instructors'; a learner gets nothing (or a tombstone).
    await added(client, hr, modules["S-007/1"].id, [("d.pdf", pdf(1, "draft"))])
    changes, _ = await pull_all(client, learner, cursor)
    assert all(c["op"] == "DELETE" for c in content_rows(changes, company.courses["S-007"].id))
    hr_changes, _ = await pull_all(client, hr)
    [draft_row] = content_rows(hr_changes, company.courses["S-007"].id)
    assert draft_row["op"] != "DELETE" and draft_row["data"]["modules"][0]["files"][0]["title"] == "d"

    # Published, the draft's manifest reaches the learner.
    publish = "mutation P($input: CourseLifecycleInput!) { publishCourse(input: $input) { errors { code } } }"
    draft_id = gid("Course", company.courses["S-007"].id)
    assert (await call(client, hr, publish, "publishCourse", input={"courseId": draft_id}))["errors"] == []
    changes, _ = await pull_all(client, learner, cursor)
    [published] = [c for c in content_rows(changes, company.courses["S-007"].id) if c["op"] != "DELETE"]
    assert published["data"]["modules"][0]["files"][0]["title"] == "d"


async def test_course_download_links_work_for_those_who_may_see_the_course(
    client, company, modules, test_settings, password_hash
):
    hr = await token_for(client, company.code, "HR1")
    content = pdf(2, "download")
    await added(client, hr, modules["S-001/1"].id, [("a.pdf", content)])
    await added(client, hr, modules["S-007/1"].id, [("draft.pdf", pdf(1, "secret draft"))])
    learner = await token_for(client, company.code, "LRN")
    found = await call(
        client, learner, DOWNLOAD, "courseDownload", id=gid("Course", company.courses["S-001"].id), low=False
    )
    [file] = found["modules"][0]["files"]
    assert found["totalBytes"] == len(content) and file["url"].startswith(f"/media/{file['sha256']}?k=")
    key = file["url"].split("?k=", 1)[1]
    claims = read_media_key(test_settings, file["sha256"], key)
    assert claims.tenant_id == company.tenant.id and claims.mime_type == "application/pdf"
    response = await client.get(file["url"])  # the /media route: no Authorization header needed
    assert response.status_code == 200 and response.content == content

    draft_id = gid("Course", company.courses["S-007"].id)
    hidden = await gql(client, DOWNLOAD, {"id": draft_id, "low": False}, token=learner)
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND" and hidden["data"] is None
    assert (await call(client, hr, DOWNLOAD, "courseDownload", id=draft_id, low=False))["modules"][0]["files"]
    other = await make_company(password_hash)
    stranger = await token_for(client, other.code, "HR1")
    foreign = await gql(
        client, DOWNLOAD, {"id": gid("Course", company.courses["S-001"].id), "low": False}, token=stranger
    )
    assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    hidden_lesson = await gql(client, LESSON, {"id": gid("CourseModule", modules["S-007/1"].id)}, token=learner)
    assert hidden_lesson["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_video_gets_a_low_bitrate_copy_offered_in_the_manifest(client, company, modules, tmp_path):
    hr = await token_for(client, company.code, "HR1")
    video = mp4(tmp_path)
    lesson = await added(client, hr, modules["S-001/1"].id, [("clip.mov", video)])
    [file] = lesson["files"]
    assert file["kind"] == "VIDEO" and file["mimeType"] == "video/mp4" and 900 <= file["durationSeconds"] * 1000 <= 1200
    await renditions.wait_for_background()
    row = await MediaRendition.get(
        source_id=(await MediaObject.get(tenant_id=company.tenant.id, sha256=file["sha256"])).id
    )
    learner = await token_for(client, company.code, "LRN")
    course_id = gid("Course", company.courses["S-001"].id)
    low = await call(client, learner, DOWNLOAD, "courseDownload", id=course_id, low=True)
    [offered] = low["modules"][0]["files"]
    [copy] = offered["renditions"]
    assert copy["label"] == "360p" and copy["status"] == row.status.value == "READY"
    assert offered["url"] == copy["url"] and copy["sha256"] in offered["url"]
    assert low["lowBandwidthBytes"] == copy["sizeBytes"] and low["totalBytes"] == file["sizeBytes"]
    full = await call(client, learner, DOWNLOAD, "courseDownload", id=course_id, low=False)
    assert file["sha256"] in full["modules"][0]["files"][0]["url"]


# --- the command line -------------------------------------------------------------------------------------


def content_cli(database_url: str, settings, *args: str, language: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    """`xuefen content ...` on the session's database and media directory (as tests/test_tenant_cli.py)."""
    env = {
        **os.environ,
        "XUEFEN_DATABASE_URL": database_url,
        "XUEFEN_SECRET_KEY": settings.secret_key,
        "XUEFEN_MEDIA_DIR": settings.media_dir,
        "XUEFEN_LOG_LEVEL": "WARNING",
        "LANG": language,
        "LC_ALL": "",
        "LC_MESSAGES": "",
    }
    command = [sys.executable, "-m", "backend.cli", "content", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


async def test_content_add_from_the_command_line(company, modules, database_url, test_settings, tmp_path):
    manual, text = tmp_path / "手册.pdf", tmp_path / "lesson.md"
    manual.write_bytes(pdf(2, "cli"))
    text.write_text("# 第一课\n\n内容", encoding="utf-8")
    tenant = ("--tenant", company.code)
    done = content_cli(
        database_url, test_settings, "add", "S-001", "学习", str(manual), "--text", str(text), "--title", "操作手册",
        *tenant, "--locale", "en",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    stored = await MediaObject.get(tenant_id=company.tenant.id)
    line = f"Stored {manual}: 操作手册, PDF, {stored.size_bytes} bytes, sha256 {stored.sha256}, content version 2"
    # S-001 is published: the text and the files are two changes, two versions.
    assert line in done.stdout and "Lesson text stored (9 characters), content version 1" in done.stdout, done.stdout
    content = await LessonContent.get(module_id=modules["S-001/1"].id, version=2)
    assert content.body_html == "<h1>第一课</h1>\n<p>内容</p>"
    assert await AuditEntry.filter(tenant_id=company.tenant.id, action="lesson.files_add", actor_id=None).exists()
    assert await media_store(test_settings).has(stored.sha256)

    bad = tmp_path / "setup.pdf"
    bad.write_bytes(ELF)
    refused = content_cli(database_url, test_settings, "add", "S-001", "1", str(bad), *tenant, "--locale", "en")
    assert refused.returncode == 1 and refused.stderr.startswith("xuefen: Unsupported file type"), refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    unknown = content_cli(database_url, test_settings, "add", "NOPE", "1", str(manual), *tenant, language="zh_CN.UTF-8")
    assert unknown.returncode == 1 and "没有课程 NOPE" in unknown.stderr, unknown.stderr
    no_module = content_cli(database_url, test_settings, "add", "S-001", "9", str(manual), *tenant)
    assert no_module.returncode == 1 and "no module 9" in no_module.stderr, no_module.stderr
    assert await MediaObject.filter(tenant_id=company.tenant.id).count() == 1


NEW_VERSION = """
mutation N($input: CreateCourseVersionInput!) {
  createCourseVersion(input: $input) { course { id modules { id position } } errors { code field } }
}
"""


async def test_a_new_course_version_starts_with_the_lessons_of_the_old_one(client, company, modules):
    hr = await token_for(client, company.code, "HR1")
    old = await added(client, hr, modules["S-001/1"].id, [("a.pdf", pdf(1, "v")), ("b.png", png(9, 9))])
    await call(client, hr, TEXT, "updateLessonText", id=gid("CourseModule", modules["S-001/1"].id), markdown="旧文")
    await call(client, hr, STUDY_BAR, "setStudyRequirement", id=gid("CourseModule", modules["S-001/1"].id), percent=80)
    made = await call(
        client,
        hr,
        NEW_VERSION,
        "createCourseVersion",
        input={"courseId": gid("Course", company.courses["S-001"].id), "code": "T-001-02"},
    )
    assert made["errors"] == [], made
    twin = made["course"]["modules"][0]["id"]
    copied = await call(client, hr, LESSON, "lessonContent", id=twin)
    assert copied["version"] == 1 and copied["markdown"] == "旧文" and copied["requiredStudyPercent"] == 80
    assert [(f["sha256"], f["title"], f["sinceVersion"]) for f in copied["files"]] == [
        (f["sha256"], f["title"], 1) for f in old["files"]
    ]
    # The new version is a draft: edited in place, the old course's lesson untouched.
    await call(client, hr, RENAME, "renameLessonFile", id=copied["files"][0]["id"], title="新手册")
    assert (await call(client, hr, LESSON, "lessonContent", id=twin))["version"] == 1
    original = await call(client, hr, LESSON, "lessonContent", id=gid("CourseModule", modules["S-001/1"].id))
    assert original["files"][0]["title"] == "a"


async def test_an_upload_is_judged_by_the_field_it_runs_before_its_files_are_read(client, company, modules):
    """An instructor may upload lesson files but not start an import: the import's file is refused
    (403) once the operations are read, before the file; files sent before the operations are not
    taken at all."""
    await make_instructor(company, "S-001")
    token = await token_for(client, company.code, "MGR")
    start_import = "mutation S($input: StartImportInput!) { startImport(input: $input) { job { id } errors { code } } }"
    form = {
        "operations": json.dumps({"query": start_import, "variables": {"input": {"kind": "skills", "file": None}}}),
        "map": json.dumps({"0": ["variables.input.file"]}),
    }
    headers = {"GraphQL-Preflight": "1", "Authorization": f"Bearer {token}"}
    response = await client.post(
        "/graphql", data=form, files={"0": ("s.csv", b"code,name\n", "text/csv")}, headers=headers
    )
    assert response.status_code == 403 and response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Both fields in one request: refused as a whole, the lesson file not kept either.
    both = """mutation B($input: AddLessonFilesInput!, $i: StartImportInput!) {
      addLessonFiles(input: $input) { errors { code } } startImport(input: $i) { errors { code } } }"""
    variables = {
        "input": {"moduleId": gid("CourseModule", modules["S-001/1"].id), "files": [None]},
        "i": {"kind": "skills", "file": None},
    }
    form = {
        "operations": json.dumps({"query": both, "variables": variables}),
        "map": json.dumps({"0": ["variables.input.files.0"], "1": ["variables.i.file"]}),
    }
    files = {"0": ("a.pdf", pdf(1, "both"), "application/pdf"), "1": ("s.csv", b"x", "text/csv")}
    response = await client.post("/graphql", data=form, files=files, headers=headers)
    assert response.status_code == 403
    assert not await MediaObject.filter(tenant_id=company.tenant.id).exists()
    # A file before the operations: the sender's right to it cannot be judged, so it is refused.
    boundary = "xuefen-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.pdf"\r\n'
        f"Content-Type: application/pdf\r\n\r\n%PDF-1.4 x\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        + json.dumps({"query": ADD, "variables": {"input": {"moduleId": "x", "files": [None]}}})
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{{"0": ["variables.input.files.0"]}}'
        f"\r\n--{boundary}--\r\n"
    ).encode()
    response = await client.post(
        "/graphql", content=body, headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 400
    assert not await MediaObject.filter(tenant_id=company.tenant.id).exists()
    # The same instructor's lesson upload goes through.
    assert (await added(client, token, modules["S-001/1"].id, [("a.pdf", pdf(1, "ok"))]))["files"]


class StreamedUpload:
    """A multipart body sent lazily, as a client on a slow line does: the text parts and the first
    file's headers in one chunk, then the file's bytes chunk by chunk. ``file_bytes_read`` counts the
    file bytes the server asked for (httpx's ASGI transport pulls the body as the app reads it)."""

    boundary = "xuefen-stream"

    def __init__(self, parts: list[tuple[str, str]], size: int = 2 * 2**20, chunk: int = 2**16) -> None:
        self.parts, self.size, self.chunk = parts, size, chunk
        self.file_bytes_read = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    async def __aiter__(self):
        head = "".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in self.parts
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="0"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        )
        yield head.encode()
        while self.file_bytes_read < self.size:
            self.file_bytes_read += self.chunk
            yield b"a" * self.chunk
        yield f"\r\n--{self.boundary}--\r\n".encode()


async def streamed(client, token, parts: list[tuple[str, str]]) -> tuple[httpx.Response, StreamedUpload]:
    body = StreamedUpload(parts)
    headers = {"GraphQL-Preflight": "1", "Authorization": f"Bearer {token}", "Content-Type": body.content_type}
    return await client.post("/graphql", content=body, headers=headers), body


def add_parts(module_gid: str | None, query: str = ADD, variables: dict | None = None) -> list[tuple[str, str]]:
    """operations and map of addLessonFiles with one file (``module_gid`` None: no moduleId)."""
    if variables is None:
        variables = {"input": {"files": [None], **({"moduleId": module_gid} if module_gid else {})}}
    mapped = {"0": ["variables.input.files.0"]} if "input" in variables else {"0": ["variables.f.0"]}
    return [("operations", json.dumps({"query": query, "variables": variables})), ("map", json.dumps(mapped))]


@pytest.fixture
async def undrained(database_url, test_settings):
    """A client of an app that reads nothing more of a refused upload's body once it answers
    (``XUEFEN_MAX_BODY_DRAIN_BYTES=0``; the server drains up to 32 MiB by default, unparsed): the
    bytes the client was asked for are the bytes the app itself read."""
    settings = dataclasses.replace(test_settings.with_overrides(database_url=database_url), max_body_drain_bytes=0)
    app = create_app(settings, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://xuefen.test") as http:
        yield http


def media_files(settings) -> int:
    return sum(1 for p in Path(settings.media_dir).rglob("*") if p.is_file())


async def test_an_upload_to_a_module_the_sender_may_not_add_to_is_refused_before_its_file_is_read(
    undrained, company, modules, password_hash
):
    """An instructor may upload lesson files, but only to the courses they teach: which module is
    in the operations, so the service's own check (lessons.check_may_upload) runs once they are
    read, before a byte of the file: a 2 GB video to someone else's course is not read first."""
    client = undrained
    await make_instructor(company, "S-001")
    token = await token_for(client, company.code, "MGR")
    other_course = gid("CourseModule", modules["S-003/1"].id)
    response, body = await streamed(client, token, add_parts(other_course))
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body.file_bytes_read == 0
    # The module as a literal in the query, the files a variable: judged the same.
    literal = f"""mutation L($f: [Upload!]!) {{
      addLessonFiles(input: {{moduleId: "{other_course}", files: $f}}) {{ errors {{ code }} }} }}"""
    response, body = await streamed(client, token, add_parts(None, literal, {"f": [None]}))
    assert (response.status_code, body.file_bytes_read) == (403, 0), response.text
    # Where the files go cannot be read from the operations (no moduleId; a variable not given; not
    # an id): refused too, the file unread.
    by_variable = """mutation V($m: ID!, $f: [Upload!]!) {
      addLessonFiles(input: {moduleId: $m, files: $f}) { errors { code } } }"""
    for parts in (add_parts(None), add_parts(None, by_variable, {"f": [None]}), add_parts("x")):
        response, body = await streamed(client, token, parts)
        assert (response.status_code, body.file_bytes_read) == (400, 0), response.text
        assert response.json()["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "input.moduleId"}
    # Another company's module looks missing: 404, unread.
    other = await make_company(password_hash)
    response, body = await streamed(client, await token_for(client, other.code, "HR1"), add_parts(other_course))
    assert (response.status_code, body.file_bytes_read) == (404, 0), response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert not await MediaObject.filter(tenant_id=company.tenant.id).exists()
    # The course the instructor teaches: the whole file is read and kept.
    response, body = await streamed(client, token, add_parts(gid("CourseModule", modules["S-001/1"].id)))
    assert response.status_code == 200 and body.file_bytes_read == body.size, response.text
    assert response.json()["data"]["addLessonFiles"]["errors"] == []


async def test_a_retired_course_takes_no_files_and_keeps_none(undrained, company, modules, test_settings):
    """A RETIRED course's lesson is history: an upload is refused before its files are read (over
    HTTP) or spooled (``lessons.add_files``, as `xuefen content add` calls it), nothing stored."""
    client = undrained
    await Course.filter(id=company.courses["S-003"].id).update(status=CourseStatus.RETIRED)
    module_id = modules["S-003/1"].id
    rows, stored = await MediaObject.all().count(), media_files(test_settings)
    token = await token_for(client, company.code, "HR1")
    response, body = await streamed(client, token, add_parts(gid("CourseModule", module_id)))
    assert (response.status_code, body.file_bytes_read) == (400, 0), response.text
    assert response.json()["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "moduleId"}
    source = io.BytesIO(pdf(1, "retired"))

    async def read(size: int) -> bytes:
        return source.read(size)

    operator = lessons.Operator(company.tenant.id)
    with pytest.raises(DomainError) as refused:
        await lessons.add_files(operator, test_settings, module_id, [lessons.NewFile("a.pdf", "", read)])
    assert (refused.value.code, refused.value.field) == (ErrorCode.VALIDATION, "moduleId")
    assert source.tell() == 0  # not a byte spooled
    assert (await MediaObject.all().count(), media_files(test_settings)) == (rows, stored)
    assert not await LessonContent.filter(module_id=module_id).exists()


async def test_a_multipart_request_that_repeats_operations_or_map_is_refused_before_its_file_is_read(
    undrained, company, modules, password_hash
):
    """The check reads the first ``operations``; strawberry would run the last one. A request that
    sends ``operations`` or ``map`` twice is refused (400) before its file is read."""
    client = undrained
    token = await token_for(client, company.code, "HR1")
    allowed = add_parts(gid("CourseModule", modules["S-001/1"].id))
    other = await make_company(password_hash)
    foreign = await CourseModule.filter(course_id=other.courses["S-001"].id).first()
    assert foreign is not None
    elsewhere = add_parts(gid("CourseModule", foreign.id))
    for parts in ([*allowed, elsewhere[0]], [allowed[0], *allowed], [*allowed, allowed[1]]):
        response, body = await streamed(client, token, parts)
        assert (response.status_code, body.file_bytes_read) == (400, 0), response.text
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION" and "more than once" in error["message"]
    # A second operations after the file: refused all the same, nothing kept.
    boundary = "xuefen-boundary"
    body = (
        "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n' for n, v in allowed)
        + f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.txt"\r\n\r\ntext\r\n'
        + f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{elsewhere[0][1]}\r\n'
        + f"--{boundary}--\r\n"
    ).encode()
    headers = {"GraphQL-Preflight": "1", "Authorization": f"Bearer {token}", "Accept-Language": "en"}
    response = await client.post(
        "/graphql", content=body, headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 400, response.text
    assert not await MediaObject.filter(tenant_id__in=[company.tenant.id, other.tenant.id]).exists()


def test_file_names_are_their_last_part_without_control_characters() -> None:
    assert lessons.file_name_of("../../etc/pa\x00ss\r\nwd.pdf") == "passwd.pdf"
    assert lessons.file_name_of("C:\\培训\\手册.pdf") == "手册.pdf"
    assert len(lessons.file_name_of("名" * 300)) == 255


async def test_request_bounds_files_and_titles(client, company, modules):
    token = await token_for(client, company.code, "HR1")
    many = [(f"{i}.txt", f"第 {i} 页".encode()) for i in range(21)]
    refused = (await upload(client, token, modules["S-001/1"].id, many)).json()["data"]["addLessonFiles"]
    assert refused["errors"] == [{"code": "VALIDATION", "message": refused["errors"][0]["message"], "field": "files"}]
    extra_titles = await upload(client, token, modules["S-001/1"].id, [("a.txt", b"a")], titles=["a", "b"])
    assert extra_titles.json()["data"]["addLessonFiles"]["errors"][0]["field"] == "input.titles"
    long_title = await upload(client, token, modules["S-001/1"].id, [("a.txt", b"a")], titles=["题" * 201])
    assert long_title.json()["data"]["addLessonFiles"]["errors"][0]["code"] == "VALIDATION"
    no_place = await upload(client, token, modules["S-001/1"].id, [("a.txt", b"a")], position=2)
    assert no_place.json()["data"]["addLessonFiles"]["errors"][0]["field"] == "position"
    assert not await MediaObject.filter(tenant_id=company.tenant.id).exists()
    # A name is kept as its last part (it goes into download headers; control characters are dropped
    # too: tests of lessons.file_name_of, as httpx escapes them on the way).
    named = await added(client, token, modules["S-001/1"].id, [("..\\..\\etc/手册.txt", b"text")])
    assert named["files"][0]["fileName"] == "手册.txt" and named["files"][0]["title"] == "手册"


async def test_manifests_cost_the_same_statements_for_one_course_or_many(client, company, modules, tmp_path):
    token = await token_for(client, company.code, "HR1")
    for key, marker in (("S-001/1", "one"), ("S-003/1", "two"), ("S-007/1", "three")):
        await added(client, token, modules[key].id, [(f"{marker}.pdf", pdf(1, marker)), (f"{marker}.png", png(4, 4))])
    courses = list(company.courses.values())

    async def statements(chosen) -> tuple[int, dict]:
        with count_queries() as sent:
            found = await manifests_of(chosen)
        return len(sent), found

    one, _ = await statements(courses[:1])
    many, found = await statements(courses)
    assert one == many <= 6, (one, many)
    assert sum(len(m.files) for manifest in found.values() for m in manifest.modules) == 6
