// Tool pins in Cloud Storage: <prefix><tool key>/<seq>.json, each created once with
// ifGenerationMatch=0, so a locked bucket can hold them and of any number of instances exactly
// one creates a given number. The current pin is the highest number under the tool's key.
import { createOnce, gcsBucket, readText, type GcsOptions } from './gcs.js';
import { parsePin, pinKey, pinName, type PinStore, type ToolPin } from '../pins/store.js';

export function gcsPinStore(o: GcsOptions): PinStore {
  const bucket = gcsBucket(o);
  const prefix = o.prefix ?? 'pins/';
  const timeout = o.timeoutMs ?? 5000;
  async function latestUnder(p: string): Promise<ToolPin | null> {
    const [files] = await bucket.getFiles({ prefix: p, autoPaginate: true });
    const names = files
      .map((f) => f.name)
      .filter((n) => /\/\d{8}\.json$/.test(n))
      .sort();
    const last = names[names.length - 1];
    return last ? parsePin(await readText(bucket, last), `gs://${o.bucket}/${last}`) : null;
  }
  return {
    name: `gs://${o.bucket}/${prefix}`,
    current: (upstream, tool) => latestUnder(`${prefix}${pinKey(upstream, tool)}/`),
    create: (pin) => createOnce(bucket, `${prefix}${pinKey(pin.upstream, pin.tool)}/${pinName(pin.seq)}`, JSON.stringify(pin), timeout),
    async list() {
      const [files] = await bucket.getFiles({ prefix, autoPaginate: true });
      const keys = [...new Set(files.map((f) => f.name.slice(prefix.length).split('/')[0]).filter(Boolean))];
      const pins = await Promise.all(keys.map((k) => latestUnder(`${prefix}${k}/`)));
      return pins.filter((p): p is ToolPin => p !== null);
    },
  };
}
