import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { createTempDir } from "./temp.js";

export interface TestCertificate {
  /** PEM of a self-signed certificate for 127.0.0.1 (also its own CA). */
  readonly cert: string;
  /** Its PEM private key. */
  readonly key: string;
}

/** A self-signed certificate for IP 127.0.0.1 and DNS localhost, made with openssl for one test server. */
export async function selfSignedCertificate(): Promise<TestCertificate> {
  const dir = await createTempDir("kh-tls");
  const keyFile = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  await promisify(execFile)("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
  return { cert: await readFile(certFile, "utf8"), key: await readFile(keyFile, "utf8") };
}
