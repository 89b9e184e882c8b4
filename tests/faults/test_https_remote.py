#!/usr/bin/python3
"""An https remote: its certificate is verified with the CA certificates grove loads for the push.

`grove serve` frees the CA bundle libgit2 (mbedTLS) parsed at start, and loads certificates
again before a push over http(s) (tools/git/tls.c). A local TLS server answers every
request with 404, so a push that gets through the TLS handshake fails with libgit2's
"unexpected http status code: 404", and one whose certificate is not trusted fails with a
certificate error before any HTTP request reaches the server.

Checks: with SSL_CERT_FILE naming the server's own certificate the push reaches the server
(the released certificates were loaded again); with another certificate, or with the system
bundle, the server's certificate is refused and no request reaches it; each failure is an
isError naming the cause, and the server keeps serving.

usage: test_https_remote.py GROVE
"""
import http.server
import os
import ssl
import subprocess
import threading

import faultlib


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        self.send_error(404)

    do_POST = do_GET

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that refused the certificate closes the handshake: expected


class HttpsRemote(faultlib.FaultCase):
    def make_cert(self, name):
        cert, key = (os.path.join(self.tmp, name + ext) for ext in (".pem", ".key"))
        p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                            "2", "-subj", "/CN=localhost", "-addext",
                            "subjectAltName=DNS:localhost", "-keyout", key, "-out", cert],
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return cert, key

    def start_tls_server(self, cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        httpd = Server(("127.0.0.1", 0), Handler)
        httpd.requests = []
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.cleanups.append(httpd.server_close)
        self.cleanups.append(httpd.shutdown)  # runs first: cleanups run in reverse
        return httpd

    def test_certificates_loaded_for_the_push(self):
        cert, key = self.make_cert("server")
        other, _ = self.make_cert("other")
        httpd = self.start_tls_server(cert, key)
        self.git("remote", "set-url", "origin",
                 "https://localhost:%d/repo.git" % httpd.server_address[1])

        def attempt(env):
            s = self.serve(env=dict(env, GROVE_LOG="debug"))
            inst = s.ok("spawn_work_instance", issue=9, prompt="push over https")["instance"]
            self.commit_file(inst["worktree_path"], "f.txt", "x\n")
            before = len(httpd.requests)
            text = s.error("create_pull_request", instance_id=inst["id"], title="t")
            self.assert_serving(s)
            s.close()
            return text, len(httpd.requests) - before, s.stderr_text()

        text, reached, log = attempt({"SSL_CERT_FILE": cert})
        self.assertIn("released libgit2's CA certificates", log)
        self.assert_mentions(text, "404")
        self.assertGreater(reached, 0, "no request reached the server: " + text)

        for env in ({"SSL_CERT_FILE": other}, {}):
            text, reached, _ = attempt(env)
            self.assert_mentions(text, "certificate")
            self.assertEqual(reached, 0, "an untrusted server got a request: " + text)

        missing = os.path.join(self.tmp, "no-such-bundle.pem")
        text, reached, _ = attempt({"SSL_CERT_FILE": missing})
        self.assert_mentions(text, "cannot load the CA certificates", missing)
        self.assertEqual(reached, 0)


if __name__ == "__main__":
    faultlib.run_main()
