// One tus upload through tus-js-client in Node, the way a dock's software sends it: the file as
// a read stream, in chunks of CHUNK bytes (one PATCH each). Prints the final response's
// Bwv-Sha256 header (null from servers that do not send one). For benches/tus.rs.
// usage: node upload.mjs ENDPOINT FILE CHUNK [AUTHORIZATION]
import fs from 'node:fs'

import * as tus from 'tus-js-client'

const [endpoint, file, chunk, authorization] = process.argv.slice(2)
const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  chunkSize: Number(chunk),
  uploadSize: fs.statSync(file).size,
  retryDelays: null,
  storeFingerprintForResuming: false,
  headers: authorization ? { Authorization: authorization } : {},
  metadata: { officer: '4471', device: 'BENCH-1', filename: 'footage.mp4' },
  onSuccess({ lastResponse }) {
    console.log(JSON.stringify({ sha256: lastResponse.getHeader('Bwv-Sha256') ?? null }))
  },
  onError(err) {
    console.error(`tus-js-client: ${err.message ?? err}`)
    process.exit(1)
  },
})
upload.start()
