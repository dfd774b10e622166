/**
 * The Files and Batches APIs of the fake: upload (purpose batch), content download, and batches
 * (create, retrieve, cancel) whose status a test moves on by hand: validating, in_progress,
 * completed, failed, expired with part of its output, cancelled. Output and error files are in
 * the API's line format; each request line is answered by the fake's own Images API rules.
 */
import { randomBytes } from 'node:crypto';

export type FakeBatchStatus = 'validating' | 'in_progress' | 'finalizing' | 'completed' | 'failed' | 'expired' | 'cancelling' | 'cancelled';

export interface StoredFile {
  id: string;
  purpose: string;
  filename: string;
  bytes: Buffer;
}

export interface FakeBatch {
  id: string;
  object: 'batch';
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: FakeBatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  errors: { object: 'list'; data: Array<{ code: string; message: string; line: number | null; param: string | null }> } | null;
  created_at: number;
  expires_at: number;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
}

/** How a line's request is answered: the Images API's status and JSON body. */
export type AnswerRequest = (url: string, body: Record<string, unknown>) => Promise<{ status: number; body: unknown }>;

export interface SettleOptions {
  /** expired / cancelled: how many of the requests ran (the first ones); default all for completed, 0 otherwise. */
  outputs?: number;
}

export interface FakeBatchApi {
  readonly files: Map<string, StoredFile>;
  readonly batches: Map<string, FakeBatch>;
  /** Moves a batch to `validating` or `in_progress`, with `completed` requests counted as done. */
  progress(id: string, status: 'validating' | 'in_progress', completed?: number): void;
  /** Ends a batch: runs its requests (all, or the first `outputs`) and writes its output and error files. */
  settle(id: string, status: 'completed' | 'expired' | 'cancelled' | 'failed', options?: SettleOptions): Promise<void>;
  /** Every batch that is created settles at once with this status (for benchmarks); undefined = by hand. */
  autoSettle: 'completed' | undefined;
  /** Routes /v1/files and /v1/batches; false when the path is not theirs. */
  handle(request: FakeRequest): Promise<boolean>;
  reset(): void;
}

export interface FakeRequest {
  method: string;
  path: string;
  body: Record<string, unknown>;
  files: Array<{ field: string; filename: string; bytes: Buffer }>;
  sendJson(status: number, body: unknown): Promise<void>;
  sendBytes(status: number, bytes: Buffer, contentType: string): Promise<void>;
}

const ACCEPTED_ENDPOINTS = ['/v1/images/generations', '/v1/images/edits', '/v1/responses', '/v1/chat/completions', '/v1/embeddings'];
const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);
const notFound = (what: string) => ({ error: { message: `No such ${what}`, type: 'invalid_request_error', param: 'id', code: null } });
const badRequest = (message: string, param: string | null) => ({ error: { message, type: 'invalid_request_error', param, code: null } });

export function createFakeBatchApi(answer: AnswerRequest): FakeBatchApi {
  const files = new Map<string, StoredFile>();
  const batches = new Map<string, FakeBatch>();

  const store = (purpose: string, filename: string, bytes: Buffer): StoredFile => {
    const file = { id: id('file'), purpose, filename, bytes };
    files.set(file.id, file);
    return file;
  };
  const fileObject = (f: StoredFile) => ({ id: f.id, object: 'file', bytes: f.bytes.length, created_at: now(), filename: f.filename, purpose: f.purpose, status: 'processed' });

  interface RequestLine {
    custom_id: string;
    url: string;
    body: Record<string, unknown>;
  }
  const requestLines = (batch: FakeBatch): RequestLine[] =>
    files
      .get(batch.input_file_id)!
      .bytes.toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as RequestLine);

  /** The input file's problems, as the API lists them when a batch fails validation. */
  const validate = (batch: FakeBatch): FakeBatch['errors'] => {
    const data: NonNullable<FakeBatch['errors']>['data'] = [];
    const seen = new Set<string>();
    files
      .get(batch.input_file_id)!
      .bytes.toString('utf8')
      .split('\n')
      .forEach((text, i) => {
        if (text.trim() === '') return;
        let line: Partial<RequestLine> & { method?: unknown };
        try {
          line = JSON.parse(text) as typeof line;
        } catch {
          data.push({ code: 'invalid_json_line', message: 'This line is not parseable as valid JSON.', line: i + 1, param: null });
          return;
        }
        if (typeof line.custom_id !== 'string' || seen.has(line.custom_id)) {
          data.push({ code: 'duplicate_custom_id', message: 'The custom_id for this request is a duplicate of another request.', line: i + 1, param: 'custom_id' });
        }
        seen.add(String(line.custom_id));
        if (line.method !== 'POST') data.push({ code: 'invalid_method', message: 'The method must be POST.', line: i + 1, param: 'method' });
        if (line.url !== batch.endpoint) data.push({ code: 'mismatched_endpoint', message: `The url ${String(line.url)} does not match the batch's endpoint ${batch.endpoint}.`, line: i + 1, param: 'url' });
      });
    return data.length > 0 ? { object: 'list', data } : null;
  };

  const api: FakeBatchApi = {
    files,
    batches,
    autoSettle: undefined,
    progress(batchId, status, completed = 0) {
      const batch = batches.get(batchId)!;
      batch.status = status;
      batch.request_counts.completed = completed;
    },
    async settle(batchId, status, options = {}) {
      const batch = batches.get(batchId)!;
      if (status === 'failed') {
        batch.status = 'failed';
        batch.errors ??= { object: 'list', data: [{ code: 'invalid_request', message: 'Injected batch failure.', line: null, param: null }] };
        return;
      }
      const lines = requestLines(batch);
      const ran = status === 'completed' ? lines.length : Math.min(options.outputs ?? 0, lines.length);
      const output: Buffer[] = [];
      const errors: Buffer[] = [];
      for (const [i, line] of lines.entries()) {
        if (i < ran) {
          const answered = await answer(line.url, line.body);
          const record = { id: id('batch_req'), custom_id: line.custom_id, response: { status_code: answered.status, request_id: id('req'), body: answered.body }, error: null };
          (answered.status === 200 ? output : errors).push(Buffer.from(`${JSON.stringify(record)}\n`));
        } else if (status === 'expired') {
          const record = {
            id: id('batch_req'),
            custom_id: line.custom_id,
            response: null,
            error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
          };
          errors.push(Buffer.from(`${JSON.stringify(record)}\n`));
        }
      }
      batch.output_file_id = output.length > 0 ? store('batch_output', 'batch_output.jsonl', Buffer.concat(output)).id : null;
      batch.error_file_id = errors.length > 0 ? store('batch_output', 'batch_errors.jsonl', Buffer.concat(errors)).id : null;
      batch.request_counts = { total: lines.length, completed: output.length, failed: errors.length };
      batch.status = status;
    },
    async handle(request) {
      const { method, path, body } = request;
      if (path === '/v1/files' && method === 'POST') {
        const upload = request.files.find((f) => f.field === 'file');
        if (!upload) return request.sendJson(400, badRequest("'file' is a required property", 'file')).then(() => true);
        if (body.purpose !== 'batch') return request.sendJson(400, badRequest(`This fake takes purpose 'batch' only, got ${JSON.stringify(body.purpose)}.`, 'purpose')).then(() => true);
        await request.sendJson(200, fileObject(store('batch', upload.filename, upload.bytes)));
        return true;
      }
      const content = /^\/v1\/files\/([^/]+)\/content$/.exec(path);
      if (content && method === 'GET') {
        const file = files.get(content[1]!);
        if (!file) await request.sendJson(404, notFound('File'));
        else await request.sendBytes(200, file.bytes, 'application/octet-stream');
        return true;
      }
      if (path === '/v1/batches' && method === 'POST') {
        const input = files.get(String(body.input_file_id));
        if (!input) return request.sendJson(400, badRequest(`Invalid 'input_file_id': '${String(body.input_file_id)}'. File not found.`, 'input_file_id')).then(() => true);
        if (!ACCEPTED_ENDPOINTS.includes(String(body.endpoint))) return request.sendJson(400, badRequest(`Invalid endpoint ${String(body.endpoint)}.`, 'endpoint')).then(() => true);
        if (body.completion_window !== '24h') return request.sendJson(400, badRequest("completion_window must be '24h'.", 'completion_window')).then(() => true);
        const created = now();
        const batch: FakeBatch = {
          id: id('batch'),
          object: 'batch',
          endpoint: String(body.endpoint),
          input_file_id: input.id,
          completion_window: '24h',
          status: 'validating',
          output_file_id: null,
          error_file_id: null,
          errors: null,
          created_at: created,
          expires_at: created + 24 * 3600,
          request_counts: { total: 0, completed: 0, failed: 0 },
          metadata: (body.metadata as Record<string, string> | undefined) ?? null,
        };
        batch.errors = validate(batch);
        if (batch.errors) batch.status = 'failed';
        else batch.request_counts.total = requestLines(batch).length;
        batches.set(batch.id, batch);
        if (api.autoSettle && !batch.errors) await api.settle(batch.id, api.autoSettle);
        await request.sendJson(200, batch);
        return true;
      }
      const one = /^\/v1\/batches\/([^/]+)(\/cancel)?$/.exec(path);
      if (one) {
        const batch = batches.get(one[1]!);
        if (!batch) return request.sendJson(404, notFound('batch')).then(() => true);
        if (one[2] && method === 'POST') {
          if (!['validating', 'in_progress', 'finalizing'].includes(batch.status)) {
            await request.sendJson(409, badRequest(`Cannot cancel a batch with status ${batch.status}.`, null));
            return true;
          }
          batch.status = 'cancelling';
        }
        await request.sendJson(200, batch);
        return true;
      }
      return false;
    },
    reset() {
      files.clear();
      batches.clear();
      api.autoSettle = undefined;
    },
  };
  return api;
}
