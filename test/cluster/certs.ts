/**
 * The test PKI for the check tests, from the shared test/support/tls.ts: the default private CA's
 * server/peer/client set, plus an unrelated CA (wrong-CA tests).
 */
import { makeTls, newCa, type TlsSet } from '../support/tls.js'

export interface TestPki extends TlsSet {
  /** A CA that signed nothing the cluster uses. */
  otherCa: string
}

export async function makePki(): Promise<TestPki> {
  const [tls, other] = await Promise.all([makeTls(), newCa('etcd-inspect-unrelated-ca')])
  return { ...tls, otherCa: other.cert }
}
