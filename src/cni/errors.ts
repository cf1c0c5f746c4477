// Error codes from the CNI spec 1.1.0 ("Error"), plus gingham's own in the 100+ range the spec leaves
// to plugins. Every failure a caller can see is a CniError, so the plugin entry prints one shape.
export const Code = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  NotAvailable: 50,
  NotAvailableDamaged: 51,
  /** No free address in a range set, or a requested address is taken. */
  AddressUnavailable: 100,
  /** A kernel operation (ip, iptables, sysctl) failed. */
  KernelFailure: 101,
  /** A delegated plugin failed without a CNI error of its own. */
  DelegateFailure: 102,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
    this.name = 'CniError';
  }

  toJSON(cniVersion: string): Record<string, unknown> {
    const out: Record<string, unknown> = { cniVersion, code: this.code, msg: this.message };
    if (this.details) out['details'] = this.details;
    return out;
  }
}

export const invalidConfig = (msg: string, details = ''): CniError => new CniError(Code.InvalidConfig, msg, details);

/** Anything thrown that is not a CniError becomes an I/O failure that keeps its message. */
export function asCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  return new CniError(Code.IoFailure, err.message, err.stack ?? '');
}
