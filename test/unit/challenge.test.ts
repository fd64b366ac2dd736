import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  deriveSsoKey, expectedQry, mbiKeyResponse, md5LoginResponse, qryMd5, qryMsnp11,
} from '../../src/protocol/challenge.js'

test('MD5 login response matches the reference vector', () => {
  assert.equal(md5LoginResponse('1118234567.30312', 'tr0ub4dor'), 'f651d58e332e28da6917fe07d1c8bfc9')
})

test('MSNP6-10 challenge answers use MD5 of challenge and product key', () => {
  assert.equal(qryMd5('15570131571988941333'), '8f2f5a91b72102cd28355e9fc9000d6e')
  assert.equal(qryMd5('48203715562901847316', 'Q1P7W2E4J9R8U3S5'), '6ac477f63a5f249debc5613af22f3c84')
  assert.equal(qryMd5('30912785013344876521'), '3fc9c7f913a5f5fa56f29d7ab0015e8f')
})

const MSNP11_VECTORS: [string, string, string, string][] = [
  ['22210219642164014968', 'PROD0090YUAUV{2B', 'YMM8C_H7KCQ2S_KL', '85ecb0db8f32113df79ce0892b9a102c'],
  ['36819795137093047918', 'PROD0090YUAUV{2B', 'YMM8C_H7KCQ2S_KL', 'e7ad3cb09d3e9e4e7c720175984809e9'],
  ['21948129323261853323', 'PROD0090YUAUV{2B', 'YMM8C_H7KCQ2S_KL', '59bcf63ed21f44906c3d3e121ddbed65'],
  ['41525959199453244913', 'PROD0090YUAUV{2B', 'YMM8C_H7KCQ2S_KL', 'dcb8ff529e4dd12cc43389851128d2db'],
  ['31744216663023315951', 'PROD0090YUAUV{2B', 'YMM8C_H7KCQ2S_KL', 'd15553d0ea89c9f63bbb98a208fa4235'],
  ['14494180082586329971', 'PROD0090YUAUV{2B', 'YMM8C_H7KCQ2S_KL', '4e11d4cd56a65bdf04f60aa133db7ebc'],
  ['11533365622852247127', 'PROD0113H11T8$X_', 'RG@XY*28Q5QHS%Q5', 'f086d1ded067186deca8dba2231602cf'],
  ['237191752526424888127371168', 'PROD0113H11T8$X_', 'RG@XY*28Q5QHS%Q5', '65b6b623c649c25629af048d34066040'],
  ['13038318816579321232', 'PROD0120PW!CCV9@', 'C1BX{V4W}Q3*10SM', 'b2b292178e786b7cc16971fabeb5a597'],
  ['29409134351025259292', 'PROD0119GSJUC$18', 'ILTXC!4IXB5FB*PX', '15afbac39c56a0b56001e32af423f912'],
  ['44153852134221813221', 'PROD01065C%ZFN6F', 'O4BG@C7BWLYQX?5G', '2b26d48079207c31b7590867a3c2b98c'],
  ['67134012965230459871', 'PROD0120PW!CCV9@', 'C1BX{V4W}Q3*10SM', 'a57cb289719a54ea68e0f988a70a6bc4'],
]

test('MSNP11 challenge answers match every vector of the reference', () => {
  for (const [chl, pid, key, want] of MSNP11_VECTORS) assert.equal(qryMsnp11(chl, pid, key), want, chl)
})

test('expectedQry picks the rule by dialect and the key by product id', () => {
  assert.equal(expectedQry(7, '48203715562901847316', 'msmsgs@msnmsgr.com'), '6ac477f63a5f249debc5613af22f3c84')
  assert.equal(expectedQry(12, '22210219642164014968', 'PROD0090YUAUV{2B'), '85ecb0db8f32113df79ce0892b9a102c')
  assert.equal(expectedQry(12, '22210219642164014968', 'PROD0000UNKNOWN0'), null)
})

test('SSO MBI_KEY response matches the reference vector', () => {
  const key = Buffer.from('BRIfLDlGU2BteoeUoa67yNXi7/wJFiMw', 'base64')
  assert.equal(deriveSsoKey(key, 'SESSION KEY HASH').toString('hex'), '84f170dea75ea5904b5ad3b49d1d9984f928c460008b1f55')
  assert.equal(deriveSsoKey(key, 'SESSION KEY ENCRYPTION').toString('hex'), '1ba5dec28b6f0c4e2717874a0f1b01c436fd5b2c192ad131')
  const response = mbiKeyResponse(
    'BRIfLDlGU2BteoeUoa67yNXi7/wJFiMw',
    'CzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW',
    Buffer.from('a1b2c3d4e5f60718', 'hex'),
  )
  assert.equal(response, 'HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAAKGyw9Tl9gcYNgtbGD77sMc1zrWMOpswkRF3147RA36kGiPwKJXinE2wBscvWfoMdAhkRLgG+uiP3M9Nw/fgtJsuTk3NzdZKXJ+7wyjeHkyfEvnbdi8zIm26nmjPitdPw58nVIk=')
})
