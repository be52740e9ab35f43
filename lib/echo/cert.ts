// Part of the fingerprint echo server (lib/echo.ts): it parses what a client sent; the client never imports
// it. A self-signed certificate for the echo server's default identity (test use only: the private key is
// public). EC P-256, SHA-256; subjectAltName DNS:localhost, DNS:*.localhost, DNS:fp.test, IP:127.0.0.1,
// IP:::1; valid 2025-01-01 .. 2125-01-01; serverAuth. Made once with a short script (Python cryptography's
// CertificateBuilder). A client that wants to verify the server passes ECHO_CERT_PEM as its CA.

export const ECHO_CERT_PEM: string = `-----BEGIN CERTIFICATE-----
MIIB4TCCAYegAwIBAgIUJLpNCdTf9s+R+GveDIohMbu7Y+UwCgYIKoZIzj0EAwIw
MjEwMC4GA1UEAwwnY3ljbGV0bHMtbmF0aXZlIGVjaG8gc2VydmVyIChsb2NhbGhv
c3QpMCAXDTI1MDEwMTAwMDAwMFoYDzIxMjUwMTAxMDAwMDAwWjAyMTAwLgYDVQQD
DCdjeWNsZXRscy1uYXRpdmUgZWNobyBzZXJ2ZXIgKGxvY2FsaG9zdCkwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAASyeUndc70BZowpiLLcSDdtBKHITH9/GCak39Sg
Rxrn3cJcAnqRwtd5ECkTr2QTLAIa+uHAg8hKZ8oEfaCE2Ar6o3kwdzBCBgNVHREE
OzA5gglsb2NhbGhvc3SCCyoubG9jYWxob3N0ggdmcC50ZXN0hwR/AAABhxAAAAAA
AAAAAAAAAAAAAAABMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeAMBMGA1Ud
JQQMMAoGCCsGAQUFBwMBMAoGCCqGSM49BAMCA0gAMEUCIQC6VRxHe1YmW1PZF/6n
CLs8mcsJqjBRXm++q9gyZz8WggIgewgInM9ouLmZkJnKT+S9eH+d5KK3c6I7/w3w
0KjKqRw=
-----END CERTIFICATE-----
`;

export const ECHO_KEY_PEM: string = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgy7P9gqil+wn0Il9G
KAfgkJ30lIR4zuR3QsvB4Z0QxQGhRANCAASyeUndc70BZowpiLLcSDdtBKHITH9/
GCak39SgRxrn3cJcAnqRwtd5ECkTr2QTLAIa+uHAg8hKZ8oEfaCE2Ar6
-----END PRIVATE KEY-----
`;
