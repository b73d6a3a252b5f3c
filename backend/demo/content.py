"""The demo company's lesson content and evidence files (issue 15), loaded through the same
services as HR's uploads and the phones' evidence uploads: Markdown lessons, PDF slide decks, a
short video with its 360p copy (when ffmpeg is installed), a study bar, and the photos E0001's
practice logs name (all received but the last, which shows "evidence pending")."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from backend.config import Settings
from backend.demo.media import EVIDENCE_PHOTOS, evidence_photo, slides_pdf, video_mp4
from backend.models import Course, CourseModule, EmployeeRole, ModuleKind
from backend.models import Employee as EmployeeRow
from backend.services.content import evidence_upload, lessons, renditions
from backend.services.viewer import Viewer

# (course code, lesson module position, Markdown, slide deck (title, points, English title), video?)
LESSONS = (
    (
        "T-001-01",
        1,
        """# 2026 新产品知识

本课介绍 **星河 X3 智能产线控制器** 的定位、核心卖点与竞品对比。

## 学习目标
1. 说清 X3 面向的三类客户；
2. 用三句话讲出核心卖点；
3. 回答客户最常问的五个问题。

| 型号 | 适用场景 | 价格区间 |
| --- | --- | --- |
| X3 标准版 | 中小产线 | 8–12 万 |
| X3 旗舰版 | 汽车、电子 | 18–25 万 |

> 提示：先看视频，再翻阅课件；完成前需看完至少 80% 的视频和课件。
""",
        ("新产品知识", ["定位：中高端智能产线", "卖点：稳定、开放、易维护", "竞品对比与应答"], "New products"),
        True,
    ),
    (
        "T-020-01",
        1,
        """# 云计算核心概念

云服务有三种模型：**IaaS**、**PaaS** 与 **SaaS**。本课用生活中的例子解释它们的区别，
再介绍虚拟化、存储与网络的基础。

- 按需自助、弹性伸缩、按量计费
- 公有云、私有云与混合云

课后请完成随堂测验。
""",
        ("云计算核心概念", ["IaaS / PaaS / SaaS", "虚拟化与容器", "存储与网络", "云上安全"], "Cloud basics"),
        False,
    ),
    (
        "T-002-01",
        1,
        """# 客户拜访：从准备到跟进

1. **拜访前**：查阅客户档案，准备三个开放式问题；
2. **开场**：两分钟内说明来意与价值；
3. **需求挖掘**：多问、少说，记录客户原话；
4. **跟进**：24 小时内发送拜访纪要。

每次拜访后请在 App 里记录练习并上传签字的拜访记录照片，导师会据此确认。
""",
        None,
        False,
    ),
)
STUDY_BAR = ("T-001-01", 1, 80)


def _reader(data: bytes) -> lessons.ReadChunk:
    view = memoryview(data)
    position = 0

    async def read(size: int) -> bytes:
        nonlocal position
        chunk = bytes(view[position : position + size])
        position += len(chunk)
        return chunk

    return read


async def _module(tenant_id: int, code: str, position: int) -> CourseModule:
    course = await Course.get(tenant_id=tenant_id, code=code)
    return await CourseModule.get(course_id=course.id, position=position, kind=ModuleKind.LESSON)


async def load_content(tenant_id: int, settings: Settings) -> None:
    """Lessons, files and evidence bytes of the demo company (after its history: the completions
    recorded before the study bar was set stay as they were)."""
    author = lessons.Operator(tenant_id)
    for code, position, markdown, deck, with_video in LESSONS:
        module = await _module(tenant_id, code, position)
        await lessons.set_text(author, module.id, markdown)
        files = []
        if deck is not None:
            title, points, english = deck
            files.append(
                lessons.NewFile(f"{title}.pdf", f"{title}（课件）", _reader(slides_pdf(title, points, english)))
            )
        if with_video:
            with tempfile.TemporaryDirectory() as work:
                video = Path(work) / "lesson.mp4"
                if video_mp4(video, ffmpeg=settings.ffmpeg):
                    files.insert(0, lessons.NewFile("产品演示.mp4", "产品演示视频", _reader(video.read_bytes())))
        if files:
            await lessons.add_files(author, settings, module.id, files)
    code, position, percent = STUDY_BAR
    await lessons.set_study_requirement(author, (await _module(tenant_id, code, position)).id, percent)
    await renditions.wait_for_background()  # adding the video started its 360p copy
    await renditions.make_pending(settings, on_ready=lessons.rendition_ready)
    await _evidence(tenant_id, settings)


async def _evidence(tenant_id: int, settings: Settings) -> None:
    """E0001's phone uploads the photos its practice logs named, but the last (still pending)."""
    employee = await EmployeeRow.get(tenant_id=tenant_id, employee_no="E0001")
    roles = frozenset(row.role for row in await EmployeeRole.filter(employee=employee))
    viewer = Viewer(tenant_id, employee, roles, uuid.uuid4(), "demo-e0001")
    for index in range(len(EVIDENCE_PHOTOS) - 1):
        photo = evidence_photo(index)
        row = await evidence_upload.attachment_of(viewer, str(photo.id_in(tenant_id)))
        chunk = settings.evidence_chunk_max_bytes
        for offset in range(0, len(photo.data), chunk):
            await evidence_upload.append(settings, viewer, row, offset, photo.data[offset : offset + chunk], None)
            row = await evidence_upload.attachment_of(viewer, str(photo.id_in(tenant_id)))
