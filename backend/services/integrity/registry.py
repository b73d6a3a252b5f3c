"""The one list of detectors, one per alert kind (``tests/test_integrity.py`` fails when a
kind has none, or a threshold or explanation has no zh-CN/en message)."""

from __future__ import annotations

from backend.models import IntegrityAlertKind
from backend.services.integrity.answer_sharing import AnswerSharing
from backend.services.integrity.clock_tampering import ClockTampering
from backend.services.integrity.code_sharing import CodeSharing
from backend.services.integrity.detectors import Detector
from backend.services.integrity.farming_burst import FarmingBurst
from backend.services.integrity.impossible_travel import ImpossibleTravel
from backend.services.integrity.lenient_mentor import LenientMentor
from backend.services.integrity.quiz_too_fast import QuizTooFast
from backend.services.integrity.reciprocal_confirmation import ReciprocalConfirmation
from backend.services.integrity.shared_device import SharedDevice

DETECTORS: dict[IntegrityAlertKind, Detector] = {
    detector.kind: detector
    for detector in (
        FarmingBurst(),
        QuizTooFast(),
        AnswerSharing(),
        LenientMentor(),
        ReciprocalConfirmation(),
        CodeSharing(),
        SharedDevice(),
        ImpossibleTravel(),
        ClockTampering(),
    )
}

# The kinds judged in a push's own transaction too (from signals: no reads of their own).
INGEST_DETECTORS: dict[IntegrityAlertKind, Detector] = {
    kind: DETECTORS[kind]
    for kind in (IntegrityAlertKind.FARMING_BURST, IntegrityAlertKind.QUIZ_TOO_FAST, IntegrityAlertKind.CODE_SHARING)
}
