/**
 * A tiny tolerant XML reader for the small documents MSNP carries (UUX/UBX data, ADL/RML lists,
 * NOT/IPG notifications, GCF policies, MSNObjects, mail data). It builds a plain element tree and
 * never throws: text that is not well-formed still yields whatever elements could be read, plus an
 * `error` describing the first problem. No namespaces, no DTDs, no validation.
 */

export interface XmlElement {
  name: string
  attrs: Record<string, string>
  children: XmlElement[]
  /** the element's own character data (entities decoded), without that of its children */
  text: string
}

export interface XmlDocument {
  /** top-level elements, in order (MSNP documents normally have exactly one) */
  roots: XmlElement[]
  /** the first problem found; the tree holds what was read up to and around it */
  error?: string
}

/** Deeper nesting is not a real MSNP document; stop there rather than build huge stacks. */
const MAX_DEPTH = 64

const NAMED: ReadonlyMap<string, string> = new Map([['lt', '<'], ['gt', '>'], ['amp', '&'], ['quot', '"'], ['apos', "'"]])

/** Decode the five XML entities and numeric references; unknown ones stay as written. */
export function decodeEntities(s: string): string {
  let amp = s.indexOf('&')
  if (amp < 0) return s
  let out = ''
  let last = 0
  while (amp >= 0) {
    const semi = s.indexOf(';', amp + 1)
    if (semi < 0 || semi - amp > 10) break
    const ent = s.slice(amp + 1, semi)
    let rep: string | undefined
    if (ent.charCodeAt(0) === 35 /* # */) {
      const hex = ent.charCodeAt(1) === 120 || ent.charCodeAt(1) === 88
      const n = hex ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10)
      if (Number.isInteger(n) && n >= 0 && n <= 0x10ffff) rep = String.fromCodePoint(n)
    } else rep = NAMED.get(ent)
    if (rep !== undefined) {
      out += s.slice(last, amp) + rep
      last = semi + 1
    }
    amp = s.indexOf('&', rep !== undefined ? semi + 1 : amp + 1)
  }
  return out + s.slice(last)
}

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13
/** End of a name: whitespace, '/', '>', '=' or end of input. */
const endsName = (c: number): boolean => isSpace(c) || c === 47 || c === 62 || c === 61 || Number.isNaN(c)

interface ParseState { error: string | undefined }

function fail(st: ParseState, msg: string): void {
  if (st.error === undefined) st.error = msg
}

// <ml l="1"><d n="example.net"><c n="bob" l="3" t="1" /></d></ml>
/** Parse a document. Never throws. */
export function parseXml(s: string): XmlDocument {
  const roots: XmlElement[] = []
  const stack: XmlElement[] = []
  const st: ParseState = { error: undefined }
  const len = s.length
  let pos = 0
  while (pos < len) {
    const lt = s.indexOf('<', pos)
    const textEnd = lt < 0 ? len : lt
    if (textEnd > pos) {
      const top = stack[stack.length - 1]
      if (top !== undefined) top.text += decodeEntities(s.slice(pos, textEnd))
      else if (s.slice(pos, textEnd).trim() !== '') fail(st, `text outside any element at ${pos}`)
    }
    if (lt < 0) break
    const c1 = s.charCodeAt(lt + 1)
    if (c1 === 63 /* ? */) {
      const end = s.indexOf('?>', lt + 2)
      if (end < 0) { fail(st, 'unterminated processing instruction'); break }
      pos = end + 2
      continue
    }
    if (c1 === 33 /* ! */) {
      if (s.startsWith('<!--', lt)) {
        const end = s.indexOf('-->', lt + 4)
        if (end < 0) { fail(st, 'unterminated comment'); break }
        pos = end + 3
      } else if (s.startsWith('<![CDATA[', lt)) {
        const end = s.indexOf(']]>', lt + 9)
        const top = stack[stack.length - 1]
        if (top !== undefined) top.text += s.slice(lt + 9, end < 0 ? len : end)
        if (end < 0) { fail(st, 'unterminated CDATA section'); break }
        pos = end + 3
      } else {
        const end = s.indexOf('>', lt + 2)
        if (end < 0) { fail(st, 'unterminated declaration'); break }
        pos = end + 1
      }
      continue
    }
    if (c1 === 47 /* / */) {
      const end = s.indexOf('>', lt + 2)
      const name = s.slice(lt + 2, end < 0 ? len : end).trim()
      let at = stack.length - 1
      while (at >= 0 && stack[at]!.name !== name) at--
      if (at < 0) fail(st, `unexpected </${name}>`)
      else {
        if (at !== stack.length - 1) fail(st, `<${stack[stack.length - 1]!.name}> closed by </${name}>`)
        stack.length = at
      }
      if (end < 0) { fail(st, `unterminated </${name}>`); break }
      pos = end + 1
      continue
    }
    // start tag
    let p = lt + 1
    while (p < len && !endsName(s.charCodeAt(p))) p++
    const name = s.slice(lt + 1, p)
    if (name === '') { fail(st, `stray '<' at ${lt}`); pos = lt + 1; continue }
    const el: XmlElement = { name, attrs: {}, children: [], text: '' }
    let selfClosing = false
    let closed = false
    while (p < len) {
      let c = s.charCodeAt(p)
      if (isSpace(c)) { p++; continue }
      if (c === 62 /* > */) { p++; closed = true; break }
      if (c === 47 /* / */) {
        if (s.charCodeAt(p + 1) === 62) { p += 2; selfClosing = true; closed = true; break }
        p++
        continue
      }
      const a0 = p
      while (p < len && !endsName(s.charCodeAt(p))) p++
      if (p === a0) { p++; continue }
      const attr = s.slice(a0, p)
      while (p < len && isSpace(s.charCodeAt(p))) p++
      let value = ''
      if (s.charCodeAt(p) === 61 /* = */) {
        p++
        while (p < len && isSpace(s.charCodeAt(p))) p++
        c = s.charCodeAt(p)
        if (c === 34 || c === 39) {
          const q = s.indexOf(c === 34 ? '"' : "'", p + 1)
          if (q < 0) { fail(st, `unterminated value of ${attr}`); value = s.slice(p + 1); p = len; }
          else { value = s.slice(p + 1, q); p = q + 1 }
        } else {
          const v0 = p
          while (p < len && !isSpace(s.charCodeAt(p)) && s.charCodeAt(p) !== 62) p++
          value = s.slice(v0, p)
        }
      }
      setKey(el.attrs, attr, decodeEntities(value))
    }
    if (!closed) fail(st, `unterminated <${name}>`)
    const parent = stack[stack.length - 1]
    if (parent !== undefined) parent.children.push(el)
    else roots.push(el)
    if (!selfClosing && closed) {
      if (stack.length >= MAX_DEPTH) { fail(st, 'elements nested too deeply'); break }
      stack.push(el)
    }
    pos = p
  }
  if (stack.length > 0) fail(st, `unclosed <${stack[stack.length - 1]!.name}>`)
  const doc: XmlDocument = { roots }
  if (st.error !== undefined) doc.error = st.error
  return doc
}

/** Assign without letting a key named `__proto__` change the object's prototype. */
export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
  else obj[key] = value
}

const sameName = (a: string, b: string): boolean => a.length === b.length && (a === b || a.toLowerCase() === b.toLowerCase())

/** First direct child named `name` (case-insensitive). */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  if (el === undefined) return undefined
  for (const c of el.children) if (sameName(c.name, name)) return c
  return undefined
}

/** Direct children named `name` (case-insensitive). */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => sameName(c.name, name))
}

/** All elements named `name` at any depth under the given ones (including themselves), in document order. */
export function findAll(from: XmlElement | readonly XmlElement[], name: string): XmlElement[] {
  const out: XmlElement[] = []
  const todo: XmlElement[] = Array.isArray(from) ? [...from].reverse() : [from as XmlElement]
  while (todo.length > 0) {
    const el = todo.pop()!
    if (sameName(el.name, name)) out.push(el)
    for (let i = el.children.length - 1; i >= 0; i--) todo.push(el.children[i]!)
  }
  return out
}

/** First element named `name` at any depth. */
export function findFirst(from: XmlElement | readonly XmlElement[], name: string): XmlElement | undefined {
  return findAll(from, name)[0]
}

/** The character data of an element and all its descendants. */
export function textContent(el: XmlElement | undefined): string {
  if (el === undefined) return ''
  if (el.children.length === 0) return el.text
  let out = el.text
  for (const c of el.children) out += textContent(c)
  return out
}

/** Attribute by name, case-insensitive. */
export function attr(el: XmlElement | undefined, name: string): string | undefined {
  if (el === undefined) return undefined
  if (Object.hasOwn(el.attrs, name)) return el.attrs[name]
  for (const k of Object.keys(el.attrs)) if (sameName(k, name)) return el.attrs[k]
  return undefined
}
