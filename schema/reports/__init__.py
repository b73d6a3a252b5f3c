"""Reports for HR admins and managers (backend/services/reports): one module per report, the
inputs they share in ``inputs.py``, exports in ``exports.py``."""
