"""Lesson content and media: what employees study and the evidence they capture.

- ``storage``: where file bytes live, behind one small interface (``MediaStore``): the local
  filesystem, content-addressed by sha256 (``XUEFEN_MEDIA_DIR``), or S3-compatible object storage.
- ``media_links``: the short-lived signed ``/media/...`` links phones download with.
"""
