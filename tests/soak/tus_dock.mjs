// Docking stations that upload through tus-js-client, the JavaScript tus client, in Node: one
// process drives every such dock of the soak (scripts/soak.py), so the HTTP a dock sends is the
// library's own, not ours.
//
// The soak writes one request per line on standard input and reads events on standard output,
// one JSON object per line:
//
//   in:  {"op": "upload", "id": 7, "dock": "...", "secret": "...", "file": "/path", "size": n,
//         "nodes": ["http://127.0.0.1:p", ...], "chunk": n, "metadata": {...}, "abandon_at": n|null}
//        {"op": "stop"}            (abort every upload in flight, then exit)
//   out: {"id": 7, "event": "created", "url": "...", "node": "..."}
//        {"id": 7, "event": "resumed", "node": "...", "created_node": "...", "offset": n}
//        {"id": 7, "event": "timed_out", "node": "..."}
//        {"id": 7, "event": "done", "recording": "...", "node": "..."}
//        {"id": 7, "event": "failed" | "abandoned" | "stopped", "reason": "..."}
//
// A dock tries its first node, and when a request fails (connection refused or reset, 5xx, 423,
// 429, 409, 460, or no answer for 30 s) it moves to the next node and resumes the same upload
// there, through a new Upload whose `uploadUrl` is the upload's URL on that node. The 30 s are a
// real dock's impatience: the node it leaves may still be finishing the request it gave up on. The library's own retries are off so
// that every failure passes through this choice of node. A resume has no `endpoint`: if the
// server no longer knows the upload, the library reports it rather than starting another one.

import fs from 'node:fs'
import readline from 'node:readline'

import * as tus from 'tus-js-client'

/** Statuses after which the same upload cannot go on: it was refused, or it is gone. */
const FATAL = new Set([400, 401, 403, 404, 410, 413])
/** An upload still failing after this long is given up (never acknowledged, so never checked). */
const GIVE_UP_MS = 5 * 60 * 1000
/** A request that sends and hears nothing for this long is abandoned for the next node. */
const IDLE_MS = 30 * 1000

let stopping = false
/** Upload id -> function that aborts its attempt in flight. */
const inFlight = new Map()

function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The same upload's URL on another node (every node serves every upload). */
function onNode(url, node) {
  const u = new URL(url)
  const n = new URL(node)
  u.host = n.host
  return u.toString()
}

/**
 * One attempt with one Upload object, on one node. Resolves (never rejects) with what ended it:
 * {ok, recording} | {error, status} | {abandoned} | {stopped}.
 */
function attempt(req, node, uploadUrl, state) {
  return new Promise((settle) => {
    let active = Date.now()
    const touch = () => {
      active = Date.now()
    }
    const watchdog = setInterval(() => {
      if (Date.now() - active > IDLE_MS) {
        upload.abort(false)
        emit({ id: req.id, event: 'timed_out', node })
        resolve({ error: `no answer for ${IDLE_MS / 1000} s`, status: 0 })
      }
    }, 1000)
    const resolve = (result) => {
      clearInterval(watchdog)
      settle(result)
    }
    const auth = Buffer.from(`${req.dock}:${req.secret}`).toString('base64')
    const options = {
      headers: { Authorization: `Basic ${auth}` },
      chunkSize: req.chunk,
      uploadSize: req.size,
      retryDelays: null,
      storeFingerprintForResuming: false,
      onUploadUrlAvailable() {
        if (uploadUrl == null) {
          state.url = upload.url
          state.createdNode = node
          emit({ id: req.id, event: 'created', url: upload.url, node })
        } else {
          emit({
            id: req.id,
            event: 'resumed',
            node,
            created_node: state.createdNode,
            offset: state.headOffset,
          })
        }
      },
      onProgress: touch,
      onAfterResponse(request, response) {
        touch()
        if (request.getMethod() === 'HEAD') {
          state.headOffset = Number.parseInt(response.getHeader('Upload-Offset') ?? '-1', 10)
        }
      },
      onChunkComplete(_size, accepted) {
        if (req.abandon_at != null && accepted >= req.abandon_at && accepted < req.size) {
          // A camera taken off its dock half-way: the upload is left to expire.
          upload.abort(false)
          resolve({ abandoned: true, offset: accepted })
        }
      },
      onSuccess({ lastResponse }) {
        resolve({ ok: true, recording: lastResponse.getHeader('Bwv-Recording-Id') ?? null })
      },
      onError(err) {
        resolve({ error: String(err.message ?? err), status: err.originalResponse?.getStatus() ?? 0 })
      },
    }
    if (uploadUrl == null) {
      options.endpoint = `${node}/files/`
      options.metadata = req.metadata
    } else {
      options.uploadUrl = uploadUrl
    }
    const upload = new tus.Upload(fs.createReadStream(req.file), options)
    inFlight.set(req.id, () => {
      upload.abort(false)
      resolve({ stopped: true })
    })
    upload.start()
  })
}

/**
 * What a HEAD on `node` says of a finished upload whose last answer carried no recording id: the
 * recording id when the server has every byte, else null.
 */
async function confirm(req, url, node) {
  const auth = Buffer.from(`${req.dock}:${req.secret}`).toString('base64')
  try {
    const res = await fetch(onNode(url, node), {
      method: 'HEAD',
      headers: { Authorization: `Basic ${auth}`, 'Tus-Resumable': '1.0.0' },
    })
    const offset = Number.parseInt(res.headers.get('upload-offset') ?? '-1', 10)
    const length = Number.parseInt(res.headers.get('upload-length') ?? '-2', 10)
    return res.ok && offset === length ? res.headers.get('bwv-recording-id') : null
  } catch {
    return null
  }
}

/** Uploads one file to the end (or until it is refused, abandoned, stopped or given up). */
async function run(req) {
  const state = { url: null, createdNode: null, headOffset: null }
  const started = Date.now()
  let turn = 0
  for (;;) {
    if (stopping) return emit({ id: req.id, event: 'stopped', reason: 'the soak is ending' })
    if (Date.now() - started > GIVE_UP_MS) {
      return emit({ id: req.id, event: 'failed', reason: 'gave up after 5 minutes of failures' })
    }
    const node = req.nodes[turn % req.nodes.length]
    turn += 1
    const url = state.url == null ? null : onNode(state.url, node)
    const result = await attempt(req, node, url, state)
    inFlight.delete(req.id)
    if (result.stopped) return emit({ id: req.id, event: 'stopped', reason: 'the soak is ending' })
    if (result.abandoned) {
      return emit({ id: req.id, event: 'abandoned', reason: `left at offset ${result.offset}`, url: state.url })
    }
    if (result.ok) {
      const recording = result.recording ?? (await confirm(req, state.url, node))
      if (recording != null) return emit({ id: req.id, event: 'done', recording, node })
      continue // the server did not say the upload is whole: ask again, elsewhere
    }
    if (FATAL.has(result.status)) {
      return emit({ id: req.id, event: 'failed', reason: `${result.status}: ${result.error}` })
    }
    // Refused connections fail at once: no pause needed before the next node. A lease held by
    // a request that died (423) lasts up to 20 s; other failures pass sooner.
    await sleep(result.status === 423 ? 2000 : result.status === 0 ? 200 : 1000)
  }
}

const lines = readline.createInterface({ input: process.stdin })
const running = new Set()
lines.on('line', (line) => {
  const msg = JSON.parse(line)
  if (msg.op === 'upload') {
    const job = run(msg)
      .catch((e) => emit({ id: msg.id, event: 'failed', reason: `dock error: ${e}` }))
      .finally(() => running.delete(job))
    running.add(job)
  } else if (msg.op === 'stop') {
    stopping = true
    for (const abort of inFlight.values()) abort()
  }
})
lines.on('close', async () => {
  stopping = true
  for (const abort of inFlight.values()) abort()
  await Promise.allSettled([...running])
  process.exit(0)
})
