/** Errors a person must fix (bad options, bad rule files, unreadable inputs). Wire errors never throw. */
export type ErrorCode =
  | 'EUSAGE'
  | 'EINPUT'
  | 'EFORMAT'
  | 'ELINKTYPE'
  | 'ELISTEN'
  | 'ERULE'
  | 'EREPLAY'
  | 'EPLATFORM'

export class MsnscopeError extends Error {
  override name = 'MsnscopeError'
  constructor(readonly code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}
