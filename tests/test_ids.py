"""Global IDs (backend/ids.py): the encoding phones have stored must never change."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from backend.ids import NODE_TYPES, from_global_id, to_global_id


@given(st.sampled_from(NODE_TYPES), st.integers(1, 2**31 - 1))
def test_a_global_id_is_url_safe_base64_of_type_and_id_without_padding(type_name: str, row_id: int) -> None:
    global_id = to_global_id(type_name, row_id)
    assert global_id == base64.urlsafe_b64encode(f"{type_name}:{row_id}".encode()).decode().rstrip("=")
    assert from_global_id(global_id) == (type_name, row_id)
