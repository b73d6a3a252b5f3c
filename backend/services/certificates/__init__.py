"""Certificates with expiry and recertification (issue 20, docs/certificates.md).

``issue`` derives certificates from course completions in the completion's transaction;
``programs`` is HR's authoring; ``queries`` who may see which; ``revoke`` HR's one decision;
``reminders`` the CERTIFICATE_EXPIRING job; ``pdf`` the printable certificate; ``badges`` the
Open Badges 3.0 credential signed with the company's key (``issuer_keys``); ``verification`` what
the public page at /verify/<code> may say.
"""
