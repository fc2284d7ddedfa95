"""Constants shared by the client tests and their conftest.

A separate module because tests/conftest.py exists too: `from conftest import`
would depend on which of the two pytest imported first under that name.
"""

IMAGE = "localhost/bb:latest"
BB = "/bin/busybox"
# Per client command; a healthy runtime needs well under a second per call.
CLIENT_TIMEOUT = 30
