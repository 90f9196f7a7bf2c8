"""A simulated mobile signature service provider (MSSP) for msign-soap's demo
and tests: ETSI TS 102 204 signature, status and profile messages in JSON
(:mod:`.protocol`) and a web "phone" per SIM card where the user approves
with the SIM PIN or refuses.

A separate WSGI application: it imports nothing from ``msign_soap`` (and
``msign_soap`` nothing from it but by module name, where the embedded default
mounts it), so that it stands for a real operator the service reaches only
over HTTP.
"""

from .app import MSSP_ID, MsspSimulator, create_simulator
from .cards import SimCard, SimulatorError
from .protocol import MSS_FORMAT_PKCS1, SIGNATURE_PROFILE, STATUS, verification_code

__all__ = [
    "MSSP_ID",
    "MSS_FORMAT_PKCS1",
    "SIGNATURE_PROFILE",
    "STATUS",
    "MsspSimulator",
    "SimCard",
    "SimulatorError",
    "create_simulator",
    "verification_code",
]
