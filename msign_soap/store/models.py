"""Peewee models of the service's state: consumers, sign requests, contents,
the signing flow's preparations and drafts, delegations between persons,
the sign page's sessions, cloud keys and PIN counters, the mobile
signature's transactions, the local signer's accepted results, and the
audit trail with its time-stamped anchors.

The models are defined per database by :func:`define_models`, so that several
stores (tests, two service instances in one process) never share a binding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import peewee as pw

__all__ = ["Models", "define_models"]


@dataclass(frozen=True)
class Models:
    """The model classes bound to one database."""

    Consumer: Any
    SignRequest: Any
    SignContent: Any
    SchemaVersion: Any
    SignPreparation: Any
    SignDraft: Any
    Delegation: Any
    SignSession: Any
    CloudKey: Any
    PinCounter: Any
    MobileSigning: Any
    MobileTransaction: Any
    LocalSignerResult: Any
    SignResult: Any
    ConsumerCertificate: Any
    AuditEvent: Any
    AuditAnchor: Any
    WebhookDelivery: Any

    def all(self) -> list[Any]:
        """Every model, in creation (dependency) order."""
        return [
            self.SchemaVersion,
            self.Consumer,
            self.SignRequest,
            self.SignContent,
            self.SignPreparation,
            self.SignDraft,
            self.Delegation,
            self.SignSession,
            self.CloudKey,
            self.PinCounter,
            self.MobileSigning,
            self.MobileTransaction,
            self.LocalSignerResult,
            self.SignResult,
            self.ConsumerCertificate,
            self.AuditEvent,
            self.AuditAnchor,
            self.WebhookDelivery,
        ]


def define_models(database: pw.Database) -> Models:
    """Create the model classes bound to ``database``."""

    class Base(pw.Model):
        class Meta:
            legacy_table_names = False

    Base._meta.set_database(database)

    class SchemaVersion(Base):
        version = pw.IntegerField(primary_key=True)
        applied_at = pw.DateTimeField()

    class Consumer(Base):
        name = pw.CharField(max_length=100, unique=True)
        #: Registered ReturnUrl prefixes, one per line; empty = any http(s) URL.
        return_url_prefixes = pw.TextField(default="")
        is_demo = pw.BooleanField(default=False)
        enabled = pw.BooleanField(default=True)
        created_at = pw.DateTimeField()
        #: Networks (CIDR, one per line) SOAP calls may come from; empty = any
        #: address (since schema version 9).
        allowed_networks = pw.TextField(default="")
        #: Where the completion webhook posts, and its HMAC-SHA256 key (hex)
        #: (since schema version 11); none: no webhook.
        webhook_url = pw.TextField(null=True)
        webhook_key = pw.CharField(max_length=64, null=True)

    class SignRequest(Base):
        request_id = pw.CharField(max_length=32, primary_key=True)
        consumer = pw.ForeignKeyField(Consumer, backref="requests", on_delete="CASCADE")
        status = pw.CharField(max_length=10, index=True)
        content_type = pw.CharField(max_length=10)
        content_description = pw.TextField(null=True)
        short_content_description = pw.TextField()
        signature_reason = pw.TextField(null=True)
        expected_signer_id = pw.CharField(max_length=13, null=True)
        delegator_type = pw.CharField(max_length=12, default="None")
        delegator_id = pw.CharField(max_length=13, null=True)
        delegated_role_id = pw.IntegerField(default=0)
        has_expected_signer = pw.BooleanField(default=False)
        created_at = pw.DateTimeField()
        expires_at = pw.DateTimeField(index=True)
        finished_at = pw.DateTimeField(null=True, index=True)
        #: msgid of the localized Failure message (see :mod:`msign_soap.i18n`).
        failure_reason = pw.TextField(null=True)
        documents_deleted = pw.BooleanField(default=False)

    class SignContent(Base):
        request = pw.ForeignKeyField(SignRequest, backref="contents", on_delete="CASCADE")
        position = pw.IntegerField()
        correlation_id = pw.CharField(max_length=36, null=True)
        name = pw.TextField(null=True)
        multiple_signatures = pw.BooleanField(default=False)
        content = pw.BlobField(null=True)
        content_size = pw.IntegerField()
        # Databases made before schema version 8 also have ``certificate`` and
        # ``signature`` columns here, emptied by that version (see SignResult).

        class Meta:
            indexes = ((("request", "position"), True),)

    # -- since schema version 2 ------------------------------------------------

    class SignPreparation(Base):
        """The signer of a request, recorded when its drafts were (last) prepared."""

        request = pw.ForeignKeyField(SignRequest, primary_key=True, on_delete="CASCADE")
        certificate = pw.BlobField()
        #: The IDNP read from the certificate (SERIALNUMBER), if it has one.
        signer_idnp = pw.CharField(max_length=13, null=True)
        #: The organization's IDNO read from the certificate, if it has one.
        signer_idno = pw.CharField(max_length=13, null=True)
        prepared_at = pw.DateTimeField()

    class SignDraft(Base):
        """One content's signature between the two steps of the signing flow."""

        request = pw.ForeignKeyField(SignRequest, on_delete="CASCADE")
        position = pw.IntegerField()
        #: ``xades`` or ``pades``.
        kind = pw.CharField(max_length=8)
        #: The draft's own JSON (``XadesDraft.to_json`` / ``PadesDraft.to_json``).
        draft = pw.TextField()
        #: PAdES only: what the prepared PDF appends to the content's document
        #: (the incremental update with the empty signature), or, stored before
        #: schema version 8, the whole prepared PDF; deleted with the document.
        prepared = pw.BlobField(null=True)

        class Meta:
            indexes = ((("request", "position"), True),)

    class Delegation(Base):
        """A person (delegator) lets another (signer) sign on their behalf."""

        delegator_idnp = pw.CharField(max_length=13)
        signer_idnp = pw.CharField(max_length=13, index=True)
        #: The DelegatedRoleID it is limited to; 0 = any role.
        role_id = pw.IntegerField(default=0)
        created_at = pw.DateTimeField()

        class Meta:
            indexes = ((("delegator_idnp", "signer_idnp", "role_id"), True),)

    # -- since schema version 3 ------------------------------------------------

    class SignSession(Base):
        """The sign page's entry parameters of a request, as the browser brought them."""

        request = pw.ForeignKeyField(SignRequest, primary_key=True, on_delete="CASCADE")
        return_url = pw.TextField()
        relay_state = pw.TextField(null=True)
        #: The instrument asked for at the entry, if it is one of the contract's.
        instrument = pw.CharField(max_length=16, null=True)
        #: Normalized to ``373XXXXXXXX``.
        msisdn = pw.CharField(max_length=11, null=True)
        lang = pw.CharField(max_length=2)
        #: Hex key of the page's CSRF tokens (HMAC of the request ID).
        csrf_secret = pw.CharField(max_length=64)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

    # -- since schema version 4 ------------------------------------------------

    class CloudKey(Base):
        """A signing key held by the service for a cloud-key provider, sealed
        under its owner's PIN (:mod:`msign_soap.instruments.keystore`)."""

        provider = pw.CharField(max_length=20)
        idnp = pw.CharField(max_length=13)
        certificate = pw.BlobField()
        #: The issuer certificates, DER, each preceded by its length (4 bytes, big-endian).
        chain = pw.BlobField()
        #: ``nonce || AES-GCM(PKCS #8 DER) || tag``.
        encrypted_key = pw.BlobField()
        salt = pw.BlobField()
        kdf = pw.CharField(max_length=10)
        kdf_n = pw.IntegerField()
        kdf_r = pw.IntegerField()
        kdf_p = pw.IntegerField()
        failed_attempts = pw.IntegerField(default=0)
        locked_until = pw.DateTimeField(null=True)
        created_at = pw.DateTimeField()

        class Meta:
            indexes = ((("provider", "idnp"), True),)

    # -- since schema version 5 ------------------------------------------------

    class PinCounter(Base):
        """Wrong PINs at a key the service does not hold itself (a PKCS #11
        token): :mod:`msign_soap.instruments.pin_counter`."""

        provider = pw.CharField(max_length=20)
        idnp = pw.CharField(max_length=13)
        failed_attempts = pw.IntegerField(default=0)
        locked_until = pw.DateTimeField(null=True)

        class Meta:
            indexes = ((("provider", "idnp"), True),)

    # -- since schema version 6 ------------------------------------------------

    class MobileSigning(Base):
        """A request being signed with the mobile signature
        (:mod:`msign_soap.instruments.mobile`): on which phone, how far."""

        request = pw.ForeignKeyField(SignRequest, primary_key=True, on_delete="CASCADE")
        #: ``373XXXXXXXX``.
        msisdn = pw.CharField(max_length=11)
        #: The IDNP the user typed, sent to the MSSP as ``UserIdentifier``;
        #: none when ExpectedSigner.ID names the signer.
        user_identifier = pw.CharField(max_length=13, null=True)
        #: How many contents (one transaction each).
        total = pw.IntegerField()
        #: A start in progress: another one waits until then (a double submit).
        busy_until = pw.DateTimeField(null=True)
        started_at = pw.DateTimeField()
        #: Message ID of a passing trouble (the MSSP did not answer), shown while polling.
        notice = pw.TextField(null=True)

    class MobileTransaction(Base):
        """The MSS_Signature transaction of one content."""

        request = pw.ForeignKeyField(SignRequest, on_delete="CASCADE")
        position = pw.IntegerField()
        #: The SHA-256 of the content's data to be signed: what the phone signs.
        digest = pw.BlobField()
        verification_code = pw.CharField(max_length=4)
        display_text = pw.TextField()
        #: Our AP_TransID (unique for the AP), and the MSSP's ID once it took the request.
        ap_trans_id = pw.CharField(max_length=40, unique=True)
        mssp_trans_id = pw.CharField(max_length=100, null=True)
        #: When a worker began sending it (a claim), and when the user's time is up.
        sent_at = pw.DateTimeField(null=True)
        deadline = pw.DateTimeField(null=True)
        signature = pw.BlobField(null=True)

        class Meta:
            indexes = ((("request", "position"), True),)

    # -- since schema version 7 ------------------------------------------------

    class LocalSignerResult(Base):
        """A content's signature made on the user's machine (``moldsign``,
        ``nationalid``), checked and accepted, until the whole batch is in
        (:mod:`msign_soap.instruments.local_signer`)."""

        request = pw.ForeignKeyField(SignRequest, on_delete="CASCADE")
        position = pw.IntegerField()
        certificate = pw.BlobField()
        #: The XAdES document or the signed PDF.
        signature = pw.BlobField()
        accepted_at = pw.DateTimeField()

        class Meta:
            indexes = ((("request", "position"), True),)

    # -- since schema version 8 ------------------------------------------------

    class SignResult(Base):
        """A content's signature once its request is Success: the signer's
        certificate and the XAdES document or the signed PDF.

        A table of its own, the signature last: storing a result writes only
        this row, not the content's (SQLite rewrites a whole row on update).
        """

        request = pw.ForeignKeyField(SignRequest, on_delete="CASCADE")
        position = pw.IntegerField()
        certificate = pw.BlobField()
        signature = pw.BlobField()

        class Meta:
            indexes = ((("request", "position"), True),)

    # -- since schema version 9 ------------------------------------------------

    class ConsumerCertificate(Base):
        """A client certificate a consumer calls with (several while one is rotated).

        Identified as TLS identifies it, by serial number **and** issuer: a
        serial is unique only within its CA.
        """

        consumer = pw.ForeignKeyField(Consumer, backref="certificates", on_delete="CASCADE")
        #: Upper-case hexadecimal, without leading zeros.
        serial = pw.CharField(max_length=64)
        #: RFC 4514 string of the issuer's name.
        issuer = pw.TextField()
        #: SHA-256 of the DER, hexadecimal.
        fingerprint = pw.CharField(max_length=64, unique=True)
        certificate = pw.BlobField()
        not_after = pw.DateTimeField()
        added_at = pw.DateTimeField()

        class Meta:
            indexes = ((("serial", "issuer"), True),)

    # -- since schema version 10 -----------------------------------------------

    class AuditEvent(Base):
        """One event of the audit trail (:mod:`msign_soap.core.audit`): rows
        are only ever inserted, each chained to the one before by its hash.

        Consumer and request are names, not references: the trail outlives
        both (a purged request, a removed consumer).
        """

        #: 1, 2, 3 … without gaps; the primary key, so that two appends can
        #: never take the same number (no fork of the chain).
        sequence = pw.BigIntegerField(primary_key=True)
        #: ``row_hash`` of the row before, 64 zeros for the first row.
        previous_hash = pw.CharField(max_length=64)
        at = pw.DateTimeField()
        event = pw.CharField(max_length=40)
        #: The consumer's name.
        consumer = pw.CharField(max_length=100, null=True)
        request_id = pw.CharField(max_length=32, null=True, index=True)
        #: The client's IP address.
        address = pw.CharField(max_length=45, null=True)
        #: Non-secret facts, a canonical JSON object.
        detail = pw.TextField()
        #: SHA-256 of the row's canonical encoding, hexadecimal.
        row_hash = pw.CharField(max_length=64)

    class AuditAnchor(Base):
        """An RFC 3161 time-stamp token over the audit trail's head hash
        when the trail had ``row_count`` rows."""

        row_count = pw.BigIntegerField(unique=True)
        head_hash = pw.CharField(max_length=64)
        #: The DER token (CMS ``ContentInfo``).
        token = pw.BlobField()
        anchored_at = pw.DateTimeField()

    # -- since schema version 11 -----------------------------------------------

    class WebhookDelivery(Base):
        """The completion webhook of one request's terminal state, until delivered
        or given up (:mod:`msign_soap.core.webhooks`)."""

        consumer = pw.ForeignKeyField(Consumer, on_delete="CASCADE")
        #: One delivery per request: a request reaches one terminal state.
        request_id = pw.CharField(max_length=32, unique=True)
        status = pw.CharField(max_length=10)
        created_at = pw.DateTimeField()
        attempts = pw.IntegerField(default=0)
        #: When to try (again); none once delivered or given up.
        next_attempt_at = pw.DateTimeField(null=True, index=True)
        #: A worker sending it holds it until then (another takes it over after).
        lease_until = pw.DateTimeField(null=True)
        delivered_at = pw.DateTimeField(null=True)
        last_error = pw.TextField(null=True)

    return Models(
        Consumer,
        SignRequest,
        SignContent,
        SchemaVersion,
        SignPreparation,
        SignDraft,
        Delegation,
        SignSession,
        CloudKey,
        PinCounter,
        MobileSigning,
        MobileTransaction,
        LocalSignerResult,
        SignResult,
        ConsumerCertificate,
        AuditEvent,
        AuditAnchor,
        WebhookDelivery,
    )
