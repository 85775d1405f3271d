import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DETECTORS, scanText, scanNumber, hintsFromKey, luhn, validAba, validIban, validSsn, cardIssuer, replaceHits, type EnabledDetectors } from '../../src/masking/detectors.js';

const all = Object.fromEntries(DETECTORS.map((d) => [d, true])) as EnabledDetectors;
const found = (s: string, key?: string) => scanText(s, all, hintsFromKey(key)).map((h) => [h.detector, s.slice(h.start, h.end)]);
const redacted = (s: string, key?: string) => replaceHits(s, scanText(s, all, hintsFromKey(key)), (h) => `[${h.detector}]`);

test('validators', () => {
  assert.ok(luhn('4111111111111111'));
  assert.ok(!luhn('4111111111111112'));
  assert.equal(cardIssuer('4111111111111111'), 'visa');
  assert.equal(cardIssuer('378282246310005'), 'amex');
  assert.equal(cardIssuer('5555555555554444'), 'mastercard');
  assert.equal(cardIssuer('1234567812345670'), null);
  assert.ok(validSsn('123456789'));
  for (const bad of ['000123456', '666123456', '900123456', '123006789', '123450000']) assert.ok(!validSsn(bad), bad);
  assert.ok(validAba('021000021')); // JPMorgan Chase
  assert.ok(validAba('011000015')); // Federal Reserve Boston
  assert.ok(!validAba('021000022'));
  assert.ok(!validAba('401000028'), 'prefix 40 is not a Federal Reserve range');
  assert.ok(validIban('GB82WEST12345698765432'));
  assert.ok(validIban('DE89370400440532013000'));
  assert.ok(!validIban('GB82WEST12345698765433'));
  assert.ok(!validIban('GB82WEST1234569876543'), 'wrong length for GB');
});

test('SSN: formatted forms are hits; bare 9 digits only with context', () => {
  assert.deepEqual(found('ssn 123-45-6789.'), [['ssn', '123-45-6789']]);
  assert.deepEqual(found('x 123 45 6789 y'), [['ssn', '123 45 6789']]);
  assert.deepEqual(found('123.45.6789'), [['ssn', '123.45.6789']]);
  assert.deepEqual(found('666-45-6789'), [], 'invalid area');
  assert.deepEqual(found('123-45/6789'), []);
  assert.deepEqual(found('order 123456789'), [], 'bare 9 digits without context');
  assert.deepEqual(found('SSN: 123456789'), [['ssn', '123456789']]);
  assert.deepEqual(found('123456789', 'customer_ssn'), [['ssn', '123456789']]);
  assert.deepEqual(found('123-456-789'), [], 'wrong grouping');
});

test('cards: separators, brands, Luhn, lengths', () => {
  assert.deepEqual(found('card 4111 1111 1111 1111 exp'), [['card', '4111 1111 1111 1111']]);
  assert.deepEqual(found('4111-1111-1111-1111'), [['card', '4111-1111-1111-1111']]);
  assert.deepEqual(found('paid with 4111111111111111'), [['card', '4111111111111111']]);
  assert.deepEqual(found('3782 822463 10005'), [['card', '3782 822463 10005']]);
  assert.deepEqual(found('4111111111111112'), [], 'Luhn fails');
  assert.deepEqual(found('1234567812345670'), [], 'no issuer starts with 1');
  // two cards in one run of groups are both found
  assert.deepEqual(
    found('4111 1111 1111 1111 5555 5555 5555 4444').map((h) => h[0]),
    ['card', 'card'],
  );
  // 19-digit Visa only counts bare with context
  assert.deepEqual(found('4000000000000000006'), []);
  assert.deepEqual(
    found('card 4000000000000000006').map((h) => h[0]),
    ['card'],
  );
});

test('ABA routing numbers need context', () => {
  assert.deepEqual(found('021000021'), []);
  assert.deepEqual(found('routing 021000021'), [['aba', '021000021']]);
  assert.deepEqual(found('021000021', 'routing_number'), [['aba', '021000021']]);
  assert.deepEqual(found('routing 021000022'), [], 'checksum');
});

test('IBAN: spaced and compact, checksum and country length', () => {
  assert.deepEqual(found('pay GB82 WEST 1234 5698 7654 32 today'), [['iban', 'GB82 WEST 1234 5698 7654 32']]);
  assert.deepEqual(found('DE89370400440532013000'), [['iban', 'DE89370400440532013000']]);
  assert.deepEqual(found('GB82WEST12345698765433'), []);
  assert.deepEqual(found('GB82WEST123456987654321'), [], 'longer token is not an IBAN');
});

test('email', () => {
  assert.deepEqual(found('contact: jane.doe+x@bank.example.com, thanks'), [['email', 'jane.doe+x@bank.example.com']]);
  assert.deepEqual(found('@mention and foo@bar'), []);
  // long input without a domain stays linear (no catastrophic backtracking)
  const long = 'a'.repeat(200000) + '@';
  assert.deepEqual(found(long), []);
});

test('phones: US formats and E.164; bare 10 digits only with context', () => {
  assert.deepEqual(found('call (415) 555-2671 now'), [['phone', '(415) 555-2671']]);
  assert.deepEqual(found('415-555-2671'), [['phone', '415-555-2671']]);
  assert.deepEqual(found('415.555.2671'), [['phone', '415.555.2671']]);
  assert.deepEqual(found('1-415-555-2671'), [['phone', '1-415-555-2671']]);
  assert.deepEqual(found('+1 415 555 2671'), [['phone', '+1 415 555 2671']]);
  assert.deepEqual(found('+44 20 7946 0958'), [['phone', '+44 20 7946 0958']]);
  assert.deepEqual(found('+14155552671'), [['phone', '+14155552671']]);
  assert.deepEqual(found('id 4155552671'), [], 'bare 10 digits');
  assert.deepEqual(found('4155552671', 'mobile'), [['phone', '4155552671']]);
  assert.deepEqual(found('115-555-2671'), [], 'area code cannot start with 1');
  assert.deepEqual(found('911-555-2671'), [], 'N11 is not an area code');
});

test('free text: only the match is replaced, the rest is kept', () => {
  assert.equal(redacted('Customer 42 (SSN 123-45-6789, jane@x.io) paid 12.50'), 'Customer 42 (SSN [ssn], [email]) paid 12.50');
  assert.equal(redacted('{"ssn":"123456789","n":1}'), '{"ssn":"[ssn]","n":1}', 'JSON text inside a string: the key gives context');
});

test('no false hits on dates, timestamps, amounts, IPs, versions, uuids', () => {
  for (const s of [
    '2024-11-22',
    '2024-11-22T10:30:00.123Z',
    '1763780000000',
    '1,234,567.89',
    '12345.67',
    '192.168.100.200',
    'v10.2.3',
    '550e8400-e29b-41d4-a716-446655440000',
    '2024 11 22 10 30 00',
  ]) {
    assert.deepEqual(found(s), [], s);
  }
});

test('adversarial: fullwidth and other-script digits, zero-width characters, odd separators', () => {
  // fullwidth digits and fullwidth hyphen-minus
  assert.deepEqual(
    found('ＳＳＮ １２３－４５－６７８９').map((h) => h[0]),
    ['ssn'],
  );
  // Arabic-Indic digits
  assert.deepEqual(
    found('١٢٣-٤٥-٦٧٨٩').map((h) => h[0]),
    ['ssn'],
  );
  // zero-width spaces/joiners between digits: the replaced span covers them too
  const zw = '4\u200b1\u200d11 1111 1111 1111';
  assert.equal(redacted(`card ${zw}!`), 'card [card]!');
  // unicode dashes and no-break spaces as separators
  assert.deepEqual(
    found('123\u201345\u20136789').map((h) => h[0]),
    ['ssn'],
  );
  assert.deepEqual(
    found('4111\u00a01111\u00a01111\u00a01111').map((h) => h[0]),
    ['card'],
  );
  // every digit separated by spaces or dots
  assert.deepEqual(
    found('4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1').map((h) => h[0]),
    ['card'],
  );
  assert.deepEqual(
    found('4.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1').map((h) => h[0]),
    ['card'],
  );
  // fullwidth @ in an e-mail
  assert.deepEqual(
    found('jane＠bank.com').map((h) => h[0]),
    ['email'],
  );
});

test('adversarial: what detectors do not catch (documented: lineage is the defence)', () => {
  assert.deepEqual(found('9876-54-321'), [], 'reversed SSN');
  assert.deepEqual(found('123-45-'), [], 'SSN split across fields (first half)');
  assert.deepEqual(found('one two three four five six seven eight nine'), [], 'spelled-out digits');
});

test('numbers: a 16-digit Luhn-valid number with an issuer prefix is a card', () => {
  assert.equal(scanNumber('4111111111111111', all), 'card');
  assert.equal(scanNumber('4111111111111112', all), null);
  assert.equal(scanNumber('123456789', all), null);
  assert.equal(scanNumber('123456789', all, hintsFromKey('ssn')), 'ssn');
  assert.equal(scanNumber('21000021', all, hintsFromKey('routing')), 'aba', 'leading zero lost in an INTEGER column');
  assert.equal(scanNumber('21000021', all), null);
  assert.equal(scanNumber('12.5', all), null);
});

test('toggles: a disabled detector finds nothing', () => {
  const none = { ...all, ssn: false };
  assert.deepEqual(scanText('123-45-6789', none), []);
});

test('key hints: whole words for short cues, substrings for distinctive ones', () => {
  assert.deepEqual([...hintsFromKey('customer_ssn')], ['ssn']);
  assert.deepEqual([...hintsFromKey('customerSSN')], ['ssn']);
  assert.deepEqual([...hintsFromKey('routing_number')], ['aba']);
  assert.deepEqual([...hintsFromKey('home_phone')], ['phone']);
  assert.deepEqual([...hintsFromKey('tel')], ['phone']);
  assert.deepEqual([...hintsFromKey('card_number')], ['card']);
  for (const k of ['database_id', 'hotel_id', 'cancelled_at', 'japan_office', 'destination', 'intel_code']) assert.deepEqual([...hintsFromKey(k)], [], k);
});
