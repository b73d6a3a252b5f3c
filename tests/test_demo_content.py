"""The demo company's lesson content and evidence (`make demo` loads them): a newcomer signing in as
E0001 finds a lesson with text, slides and a video (with its 360p copy when ffmpeg is installed),
downloads them through /media, and MT001 sees the practice photos, the last one still pending."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from backend import demo
from backend.ids import to_global_id
from backend.models import Course, CourseModule, EvidenceAttachment, EvidenceStatus, MediaKind, Tenant
from backend.services.people.auth import hash_password
from tests.graphql_client import gql, login

DEMO_CODE = "democontent"  # a copy beside the other tests' `demo`, with content

DOWNLOAD = """
query D($id: ID!, $low: Boolean!) {
  courseDownload(courseId: $id, lowBandwidth: $low) {
    totalBytes lowBandwidthBytes
    modules { position html requiredStudyPercent
              files { title kind sha256 sizeBytes url renditions { label status sizeBytes url } } }
  }
}
"""
PRACTICE = """
query P($employee: ID!) {
  practiceLogs(employeeId: $employee, first: 20) {
    edges { node { note evidence { status kind fileName url } } }
  }
}
"""


@pytest.fixture(scope="module")
async def demo_with_content(test_settings, database_url) -> Tenant:
    await demo.seed_demo(
        hash_password(test_settings, demo.DEMO_PASSWORD), tenant_code=DEMO_CODE, settings=test_settings
    )
    return await Tenant.get(code=DEMO_CODE)


async def _token(client, employee_no: str) -> str:
    payload = await login(client, DEMO_CODE, employee_no, demo.DEMO_PASSWORD, device_id=f"phone-{employee_no}")
    assert payload["errors"] == []
    return payload["tokens"]["accessToken"]


async def test_a_learner_downloads_the_demo_lesson(client, demo_with_content):
    course = await Course.get(tenant=demo_with_content, code="T-001-01")
    token = await _token(client, "E0001")
    body = await gql(client, DOWNLOAD, {"id": to_global_id("Course", course.id), "low": False}, token=token)
    assert "errors" not in body, body
    lesson = body["data"]["courseDownload"]["modules"][0]
    assert "<h1>2026 新产品知识</h1>" in lesson["html"] and "<table>" in lesson["html"]
    assert lesson["requiredStudyPercent"] == 80
    kinds = {file["kind"] for file in lesson["files"]}
    video_expected = shutil.which("ffmpeg") is not None
    assert kinds == ({MediaKind.VIDEO.value, MediaKind.PDF.value} if video_expected else {MediaKind.PDF.value})
    for file in lesson["files"]:
        answer = await client.get(file["url"])
        assert answer.status_code == 200 and hashlib.sha256(answer.content).hexdigest() == file["sha256"]
        if file["kind"] == MediaKind.VIDEO.value:
            (copy,) = file["renditions"]
            assert copy["label"] == "360p" and copy["status"] == "READY" and copy["sizeBytes"] < file["sizeBytes"]
            assert (await client.get(copy["url"], headers={"Range": "bytes=0-99"})).status_code == 206
    download = body["data"]["courseDownload"]
    assert download["lowBandwidthBytes"] <= download["totalBytes"]


async def test_the_mentor_sees_the_practice_photos_the_last_one_pending(client, demo_with_content):
    attachments = await EvidenceAttachment.filter(tenant=demo_with_content).order_by("created_at")
    assert [a.status for a in attachments] == [EvidenceStatus.RECEIVED, EvidenceStatus.RECEIVED, EvidenceStatus.PENDING]
    e0001 = attachments[0].employee_id
    token = await _token(client, "MT001")
    body = await gql(client, PRACTICE, {"employee": to_global_id("Employee", e0001)}, token=token)
    assert "errors" not in body, body
    evidence = [e for edge in body["data"]["practiceLogs"]["edges"] for e in edge["node"]["evidence"]]
    assert sorted(e["status"] for e in evidence) == ["PENDING", "RECEIVED", "RECEIVED"]
    for item in evidence:
        assert item["kind"] == "IMAGE" and item["fileName"].endswith(".jpg")
        if item["status"] == "RECEIVED":
            photo = await client.get(item["url"])
            assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
        else:
            assert item["url"] is None


async def test_completions_before_the_study_bar_stand(demo_with_content):
    # E0001's T-001-01 was completed before the lesson had content: the bar judges new completions.
    module = await CourseModule.get(course__tenant=demo_with_content, course__code="T-001-01", position=1)
    assert module.required_study_percent == 80
