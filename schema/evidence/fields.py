"""Evidence policy fields: evidencePolicy (anyone signed in) and updateEvidencePolicy (HR admins).
Thin: each calls backend.services.content.evidence_policy."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.content import evidence_policy
from backend.services.viewer import Viewer
from schema.evidence.types import EvidencePolicy, EvidencePolicyPayload
from schema.payloads import mutate


@strawberry.type
class EvidenceQueries:
    @strawberry.field(
        description="The company's evidence policy: whether evidence photos keep where they were taken (the app "
        "can say so before a photo is taken)."
    )
    async def evidence_policy(self, info: strawberry.Info) -> EvidencePolicy:
        viewer = await info.context.require_viewer()
        return EvidencePolicy(keep_photo_location=await evidence_policy.keeps_photo_location(viewer))


@strawberry.type
class EvidenceMutations:
    @strawberry.mutation(
        description="Keep (or stop keeping) the GPS location of evidence photos arriving from now on (HR admins; "
        "off by default: photos are re-encoded without any metadata). Audited."
    )
    async def update_evidence_policy(
        self,
        info: strawberry.Info,
        keep_photo_location: Annotated[bool, strawberry.argument(description="True keeps photo locations.")],
    ) -> EvidencePolicyPayload:
        async def work(viewer: Viewer) -> bool:
            return await evidence_policy.update_evidence_policy(viewer, keep_photo_location)

        return await mutate(
            info,
            work,
            lambda kept, errors: EvidencePolicyPayload(
                policy=EvidencePolicy(keep_photo_location=kept) if kept is not None else None, errors=errors
            ),
        )
