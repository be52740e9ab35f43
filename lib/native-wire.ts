// How a request spec goes into the addon and a batch of events comes out of it
// (native/binding/marshal.h): packed, not as objects. Reading some thirty named properties through
// Node-API per request, and writing a dozen per event, cost more than the rest of the request's
// way through the engine; a Float64Array and one NUL-joined string per request, and a batch's values
// as the arguments of one call, cross in a handful of calls. Only native.ts uses this: it hands lib
// the NativeEngine below, whose request(id, spec) and onEvents(batch) keep the object shapes
// native.ts describes.
import type { NativeEvent, NativeRequestField, NativeRequestSpec } from './native';
import { EventType } from './native';
import type { FingerprintShape } from './fingerprint';

/** The class the addon exports: requestPacked() takes a packed spec; onEvents gets flat batches. */
export interface RawEngineClass {
  /** onEvents gets a batch's flat values as its arguments (native/binding/marshal.h events_to_values). */
  new (onEvents: (...flat: unknown[]) => void, options?: object): RawEngine;
}
interface RawEngine {
  requestPacked(id: number, values: Float64Array, text: string, body: Uint8Array | undefined): void;
  /** The id a packed spec names this [name, value, ...] list by; 0: the engine keeps no more lists. */
  registerHeaders(flat: readonly string[]): number;
}

interface Packed {
  values: Float64Array;
  text: string;
  body: Uint8Array | undefined;
}

function invalid(name: string): TypeError {
  return new TypeError(`NativeEngine.request: invalid ${name}`);
}

/**
 * packSpec(spec, headerListId): one slot per field of the schema in its order (NaN: absent;
 * booleans 0/1; numbers as they are; 1 for a string or hex; the count of header strings or of a
 * string list), then one slot
 * for `headerListId`: a list the engine registered (registerHeaders) that stands for
 * `spec.headers`, whose strings then stay out of the text (0: none, the headers go inline). The
 * strings of the string fields and of inline headers, in field order, are joined by NUL (which no
 * value may hold: lib refuses it in every one, and the addon refuses a text whose parts do not add
 * up). The result is reused: the addon copies it before request() returns.
 *
 * The packer is generated from the table once: a loop over field names read with `spec[name]`
 * made every read a megamorphic lookup; `spec.method` and so on are plain property loads. It
 * allocates nothing but the joined text: one parts array is reused (its length changes only when
 * the number of strings does), and the headers are read by index (for...of allocated an iterator
 * result per header string).
 */
export function specPacker(
  fields: readonly NativeRequestField[],
): (spec: NativeRequestSpec, headerListId: number) => Packed {
  const lines: string[] = [];
  fields.forEach((f, i) => {
    // The names come from the addon's own table; anything but an identifier is refused here.
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(f.name)) throw new Error(`cycletls-native: bad field name ${f.name}`);
    const v = `spec.${f.name}`;
    const bad = `invalid(${JSON.stringify(f.name)})`;
    const absent = f.kind === 'bytes' ? `(x = ${v}) === undefined || x === null` : `(x = ${v}) === undefined`;
    let set: string;
    switch (f.kind) {
      case 'string':
        set =
          `if (typeof x !== 'string' || x.includes('\\0')) throw ${bad};` +
          `parts[n++] = x; values[${i}] = 1;`;
        break;
      case 'boolean':
        set = `if (typeof x !== 'boolean') throw ${bad}; values[${i}] = x ? 1 : 0;`;
        break;
      case 'port':
      case 'count':
        set = `if (typeof x !== 'number' || x !== x) throw ${bad}; values[${i}] = x;`;
        break;
      case 'headers':
        set =
          `if (!Array.isArray(x) || x.length % 2 !== 0) throw ${bad};` +
          `if (headerListId > 0) { values[${i}] = NaN; } else {` +
          `  for (let k = 0; k < x.length; k++) {` +
          `    const h = x[k];` +
          `    if (typeof h !== 'string' || h.includes('\\0')) throw ${bad};` +
          `    parts[n++] = h;` +
          `  }` +
          `  values[${i}] = x.length;` +
          `}`;
        break;
      case 'strings':
        set =
          `if (!Array.isArray(x)) throw ${bad};` +
          `for (let k = 0; k < x.length; k++) {` +
          `  const e = x[k];` +
          `  if (typeof e !== 'string' || e.includes('\\0')) throw ${bad};` +
          `  parts[n++] = e;` +
          `}` +
          `values[${i}] = x.length;`;
        break;
      case 'hex':
        set =
          `if (typeof x !== 'string' || x.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(x)) throw ${bad};` +
          `parts[n++] = x; values[${i}] = 1;`;
        break;
      case 'bytes':
        set =
          `if (!ArrayBuffer.isView(x) || x instanceof DataView) throw ${bad};` +
          `packed.body = x; values[${i}] = 1;`;
        break;
      default:
        throw new Error(`cycletls-native: unknown field kind ${String(f.kind)}`);
    }
    lines.push(`if (${absent}) values[${i}] = NaN; else { ${set} }`);
  });
  const packed: Packed = { values: new Float64Array(fields.length + 1), text: '', body: undefined };
  const body = [
    'const values = packed.values; let x; let n = 0;',
    'packed.body = undefined;',
    ...lines,
    `values[${fields.length}] = headerListId > 0 ? headerListId : NaN;`,
    // An earlier spec with more strings left some past `n`: cut them off.
    'if (parts.length !== n) parts.length = n;',
    "packed.text = parts.join('\\0');",
    'return packed;',
  ].join('\n');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function(
    'packed',
    'parts',
    'invalid',
    `return function packSpec(spec, headerListId) {\n${body}\n};`,
  ) as (
    packed: Packed,
    parts: string[],
    invalid: (name: string) => TypeError,
  ) => (spec: NativeRequestSpec, headerListId: number) => Packed;
  return make(packed, [], invalid);
}

/** A head's headers: "name\0value\0..." (or, when one holds a NUL, the list itself). */
function headerList(h: string | string[]): string[] {
  if (typeof h !== 'string') return h;
  return h === '' ? [] : h.split('\0');
}

/** A flat batch, each event [type, id, ...its fields] (native/binding/marshal.cc), as event objects. */
export function decodeEvents(flat: unknown[]): NativeEvent[] {
  const out: NativeEvent[] = [];
  let i = 0;
  while (i < flat.length) {
    const id = flat[i + 1] as number;
    switch (flat[i] as EventType) {
      case EventType.Head:
        out.push({
          id,
          type: EventType.Head,
          status: flat[i + 2] as number,
          reason: flat[i + 3] as string,
          httpVersion: flat[i + 4] as string,
          headers: headerList(flat[i + 5] as string | string[]),
          alpn: flat[i + 6] as string,
          tlsVersion: flat[i + 7] as string,
          cipher: flat[i + 8] as string,
          connectionId: flat[i + 9] as number,
          reused: flat[i + 10] as boolean,
          tlsResumed: flat[i + 11] as boolean,
          fingerprint: flat[i + 12] as string | undefined,
          fingerprintShape: flat[i + 13] as FingerprintShape | undefined,
          data: flat[i + 14] as Buffer | undefined,
          ended: flat[i + 15] as boolean,
        });
        i += 16;
        break;
      case EventType.Body:
        out.push({ id, type: EventType.Body, data: flat[i + 2] as Buffer });
        i += 3;
        break;
      case EventType.End:
        out.push({ id, type: EventType.End });
        i += 2;
        break;
      case EventType.Error:
        out.push({
          id,
          type: EventType.Error,
          code: flat[i + 2] as string,
          stage: flat[i + 3] as string,
          message: flat[i + 4] as string,
        });
        i += 5;
        break;
      case EventType.Sent:
        out.push({ id, type: EventType.Sent, bytes: flat[i + 2] as number });
        i += 3;
        break;
      case EventType.Notice: {
        const code = flat[i + 3] as string | undefined;
        const message = flat[i + 4] as string | undefined;
        out.push({
          id: 0,
          type: EventType.Notice,
          notice: flat[i + 2] as 'host' | 'client' | 'failed' | 'warning',
          ...(code === undefined ? {} : { code }),
          ...(message === undefined ? {} : { message }),
        });
        i += 5;
        break;
      }
      default:
        throw new Error(`cycletls-native: unknown event type ${String(flat[i])} from the addon`);
    }
  }
  return out;
}
