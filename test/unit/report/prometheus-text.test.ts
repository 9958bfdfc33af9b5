import { test } from 'node:test';
import assert from 'node:assert/strict';
import { histogramSeries, parseExposition, sampleOf } from '../../helpers/prometheus-text.ts';

// The example from the Prometheus exposition-format documentation, less its summary.
const DOCUMENTED = `# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320
`;

test('the documented example parses into its families, with escapes undone', () => {
  const families = parseExposition(DOCUMENTED);
  assert.deepEqual([...families.keys()], ['http_requests_total', 'msdos_file_access_time_seconds', 'metric_without_timestamp_and_labels', 'something_weird', 'http_request_duration_seconds']);
  assert.equal(families.get('http_requests_total')?.type, 'counter');
  assert.equal(sampleOf(families, 'http_requests_total', { code: '400' }).value, 3);
  assert.deepEqual(sampleOf(families, 'msdos_file_access_time_seconds').labels, { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
  assert.equal(sampleOf(families, 'something_weird').value, Number.POSITIVE_INFINITY);
  const [series] = histogramSeries(families.get('http_request_duration_seconds') ?? assert.fail());
  assert.deepEqual(series?.buckets.at(0), [0.05, 24054]);
  assert.deepEqual(series?.buckets.at(-1), [Number.POSITIVE_INFINITY, 144320]);
  assert.equal(series?.sum, 53423);
});

test('histogram series are told apart by their labels', () => {
  const text = `# TYPE h histogram
h_bucket{le="1",type="GET"} 1
h_bucket{le="+Inf",type="GET"} 2
h_sum{type="GET"} 3
h_count{type="GET"} 2
h_bucket{type="POST",le="1"} 0
h_bucket{type="POST",le="+Inf"} 5
h_sum{type="POST"} 9
h_count{type="POST"} 5
`;
  const series = histogramSeries(parseExposition(text).get('h') ?? assert.fail());
  assert.deepEqual(
    series.map((one) => [one.labels, one.count]),
    [
      [{ type: 'GET' }, 2],
      [{ type: 'POST' }, 5],
    ],
  );
});

const broken: [string, string, RegExp][] = [
  ['no trailing newline', 'a 1', /end with a newline/],
  ['a bad value', 'a one\n', /'one' is not a number/],
  ['an unterminated label', 'a{b="c} 1\n', /unterminated value of label b/],
  ['a bad escape', 'a{b="\\t"} 1\n', /bad escape/],
  ['a duplicate series', 'a{b="1"} 1\na{b="1"} 2\n', /given twice/],
  ['a family split in two', 'a 1\nb 1\na{x="y"} 2\n', /not contiguous/],
  ['TYPE after samples', 'a 1\n# TYPE a counter\n', /after its samples/],
  ['an unknown type', '# TYPE a meter\n', /unknown type/],
];
for (const [what, text, message] of broken) {
  test(`rejects ${what}`, () => assert.throws(() => parseExposition(text), message));
}

const badHistograms: [string, string, RegExp][] = [
  ['no +Inf bucket', 'h_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /no \+Inf bucket/],
  ['+Inf other than _count', 'h_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', /differs from _count/],
  ['decreasing buckets', 'h_bucket{le="1"} 3\nh_bucket{le="2"} 2\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 3\n', /below le=1/],
  ['no _sum', 'h_bucket{le="+Inf"} 1\nh_count 1\n', /_sum missing/],
];
for (const [what, body, message] of badHistograms) {
  test(`a histogram with ${what} is rejected`, () => {
    const family = parseExposition(`# TYPE h histogram\n${body}`).get('h') ?? assert.fail();
    assert.throws(() => histogramSeries(family), message);
  });
}
