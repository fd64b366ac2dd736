#!/usr/bin/env node
// Builds msnscope's optional native helper (SO_ORIGINAL_DST, for `proxy --mode transparent`)
// with the node-gyp that ships with npm. A failed build never fails the install: transparent
// mode then reports that the helper is missing, and everything else works.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'

if (process.platform !== 'linux') process.exit(0)
const candidates = []
if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'))
candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'))
const gyp = candidates.find((p) => existsSync(p))
if (gyp === undefined) {
  console.warn('msnscope: node-gyp not found; the transparent-mode helper is not built (msnscope proxy --mode transparent will say so)')
  process.exit(0)
}
const args = [gyp, 'rebuild']
// build against the headers of the Node.js that runs us when npm has not said where they are
const prefix = join(dirname(process.execPath), '..')
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`)
const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
if (r.status !== 0) {
  console.warn(`msnscope: the transparent-mode helper did not build (${(r.stderr || '').trim().split('\n').slice(-3).join(' / ')}); everything else works`)
}
process.exit(0)
