"""Lesson content and media: what employees study and the evidence they capture.

- ``storage``: where file bytes live, behind one small interface (``MediaStore``): the local
  filesystem, content-addressed by sha256 (``XUEFEN_MEDIA_DIR``), or S3-compatible object storage.
- ``media_links``: the short-lived signed ``/media/...`` links phones download with.
- ``markdown``: lesson text, Markdown to sanitised HTML; ``inspect``: what a file is, from its bytes;
  ``lessons``: a module's lesson (text, files, versions, the study bar) as authors write it;
  ``course_downloads``: a course's download manifest and its signed links.
- ``study``: study progress (the CONTENT_PROGRESS kind) and the bar a module sets before
  LESSON_COMPLETED counts.
- ``evidence``: attachments named by practice logs, evaluations and check-outs (read, claimed,
  shown); ``evidence_upload``: their resumable upload and its completion; ``evidence_photos``:
  photos re-encoded without metadata.
"""
