/**
 * MSNP21 switchboard-less commands on the NS: SDG PUT DEL NFY (GET and FSL are only known to carry
 * payloads). Everything of interest is in the multi-part payload, decoded elsewhere; the line only
 * says whether it is a push, an acknowledgement or which operation a notification reports.
 */
import type { CommandEvent, Fields } from '../events.js'
import type { FieldDecoder } from './common.js'

// C: SDG 22 <len>   S: SDG 0 <len>
function sdg(cmd: CommandEvent): Fields {
  return cmd.from === 'server' && cmd.trId === 0 ? { unsolicited: true } : {}
}

// C: PUT 24 <len>   S: PUT 24 OK [<len>]  (DEL alike)
function putDel(cmd: CommandEvent): Fields {
  return cmd.args[0] === 'OK' ? { ok: true } : {}
}

// S: NFY PUT <len> | NFY DEL <len>
function nfy(cmd: CommandEvent): Fields {
  const op = cmd.args[0]
  return op === undefined ? {} : { operation: op }
}

const none = (): Fields => ({})

export const MSNP21_FIELDS: ReadonlyArray<readonly [string, FieldDecoder]> = [
  ['SDG', sdg], ['PUT', putDel], ['DEL', putDel], ['NFY', nfy], ['GET', none], ['FSL', none],
]
