"""Credit integrity: detectors of credit gaming ("刷学分"), the alerts they raise with evidence, the
credits each alert holds until an HR admin decides, and the decisions.

``detectors`` is what a detector is; one module per kind holds its rule; ``registry`` lists them.
``signals`` is what domain services note while a push is applied (the cheap checks run in that
transaction); ``scan`` runs every detector over stored facts (``xuefen integrity scan``).
``alerts`` raises findings idempotently and holds their credits (``holds``: the ledger side);
``decisions`` is HR's release / reverse / dismiss; ``settings`` the company's thresholds;
``queries`` the lists HR and managers read. See docs/integrity.md.
"""
