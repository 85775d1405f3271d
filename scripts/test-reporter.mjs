// node:test's spec reporter, with the coverage table (one row per file, hundreds of lines)
// replaced by one line of totals; the per-file table is what `npm run coverage` prints.
import { Transform } from 'node:stream';
import { spec as Spec } from 'node:test/reporters';

class Reporter extends Transform {
  constructor() {
    super({ writableObjectMode: true });
    this.spec = new Spec();
    this.spec.on('data', (chunk) => this.push(chunk));
    this.totals = null;
  }

  _transform(event, _enc, done) {
    if (event.type === 'test:coverage') {
      this.totals = event.data.summary.totals;
      done();
      return;
    }
    this.spec.write(event, done);
  }

  _flush(done) {
    this.spec.once('end', () => {
      const t = this.totals;
      if (t) {
        const pct = (n) => `${n.toFixed(2)}%`;
        this.push(
          `coverage (src/, files the suite loads): lines ${pct(t.coveredLinePercent)} (${t.coveredLineCount}/${t.totalLineCount}), branches ${pct(t.coveredBranchPercent)}, functions ${pct(t.coveredFunctionPercent)}\n`,
        );
      }
      done();
    });
    this.spec.end();
  }
}

export default new Reporter();
