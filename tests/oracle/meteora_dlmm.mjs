// Differential-test oracle for the Meteora DLMM adapter, driven by @meteora-ag/dlmm itself.
// Reads one JSON document on stdin, answers one JSON document on stdout; integers as decimal
// strings, account data as base64. No RPC: the DLMM object is built from account bytes with the
// SDK's own decoder (createProgram on an unused connection + decodeAccount).
//   quotes -> DLMM.prototype.swapQuote (isPartialFill false) on the in-memory pair, bin arrays,
//             bitmap extension and mints; Date.now pinned to the case's clock timestamp
//   ixs    -> the SDK's Anchor program builder: methods.swap (SPL pairs) or methods.swap2 (a
//             Token-2022 side; empty transfer-hook slices, memo program), bin arrays as
//             writable remaining accounts, as DLMM.swap assembles them
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Connection, PublicKey } = require("@solana/web3.js");
const BN = require("bn.js");
const spl = require("@solana/spl-token");
const dlmm = require("@meteora-ag/dlmm");

const DLMM = dlmm.default ?? dlmm;
const program = dlmm.createProgram(new Connection("http://127.0.0.1:9"));
const pk = (s) => new PublicKey(s);
const buf = (b64) => Buffer.from(b64, "base64");

function mintInfo(m) {
  const info = { data: buf(m.data), owner: pk(m.owner), lamports: 1, executable: false };
  return spl.unpackMint(pk(m.pubkey), info, pk(m.owner));
}

function makePair(c) {
  const pair = Object.create(DLMM.prototype);
  pair.pubkey = pk(c.pair);
  pair.program = program;
  pair.lbPair = dlmm.decodeAccount(program, "lbPair", buf(c.pair_data));
  pair.binArrayBitmapExtension = c.extension
    ? { publicKey: pk(c.extension.pubkey), account: dlmm.decodeAccount(program, "binArrayBitmapExtension", buf(c.extension.data)) }
    : null;
  pair.tokenX = { publicKey: pk(c.mint_x.pubkey), mint: mintInfo(c.mint_x), owner: pk(c.mint_x.owner) };
  pair.tokenY = { publicKey: pk(c.mint_y.pubkey), mint: mintInfo(c.mint_y), owner: pk(c.mint_y.owner) };
  pair.clock = { epoch: new BN(String(c.epoch)), unixTimestamp: new BN(String(c.timestamp)) };
  return pair;
}

function quote(c) {
  const pair = makePair(c);
  const binArrays = c.bin_arrays.map((a) => ({
    publicKey: pk(a.pubkey),
    account: dlmm.decodeAccount(program, "binArray", buf(a.data)),
  }));
  const realNow = Date.now;
  Date.now = () => Number(c.timestamp) * 1000;
  try {
    const q = pair.swapQuote(new BN(String(c.amount_in)), Boolean(c.swap_for_y), new BN(0), binArrays, false, 0);
    return {
      amount_out: q.outAmount.toString(),
      consumed_in: q.consumedInAmount.toString(),
      fee: q.fee.toString(),
      protocol_fee: q.protocolFee.toString(),
      bin_arrays: q.binArraysPubkey.map((k) => k.toBase58()),
    };
  } catch (e) {
    return { error: String((e && e.message) || e) };
  } finally {
    Date.now = realNow;
  }
}

async function instruction(c) {
  const pair = dlmm.decodeAccount(program, "lbPair", buf(c.pair_data));
  const tokenXProgram = pk(c.token_x_program);
  const tokenYProgram = pk(c.token_y_program);
  const swapForY = Boolean(c.swap_for_y);
  const [inMint, outMint, inProg, outProg] = swapForY
    ? [pair.tokenXMint, pair.tokenYMint, tokenXProgram, tokenYProgram]
    : [pair.tokenYMint, pair.tokenXMint, tokenYProgram, tokenXProgram];
  const user = pk(c.user);
  const accounts = {
    lbPair: pk(c.pair),
    binArrayBitmapExtension: c.extension ? pk(c.extension) : null,
    reserveX: pair.reserveX,
    reserveY: pair.reserveY,
    userTokenIn: spl.getAssociatedTokenAddressSync(inMint, user, true, inProg),
    userTokenOut: spl.getAssociatedTokenAddressSync(outMint, user, true, outProg),
    tokenXMint: pair.tokenXMint,
    tokenYMint: pair.tokenYMint,
    oracle: pair.oracle,
    hostFeeIn: null,
    user,
    tokenXProgram,
    tokenYProgram,
  };
  const remaining = c.bin_arrays.map((k) => ({ pubkey: pk(k), isSigner: false, isWritable: true }));
  const amountIn = new BN(String(c.amount_in));
  const minOut = new BN(String(c.min_out));
  let builder;
  if (c.v2) {
    builder = program.methods
      .swap2(amountIn, minOut, { slices: [] })
      .accountsPartial({ ...accounts, memoProgram: dlmm.MEMO_PROGRAM_ID });
  } else {
    builder = program.methods.swap(amountIn, minOut).accountsPartial(accounts);
  }
  const ix = await builder.remainingAccounts(remaining).instruction();
  return {
    program_id: ix.programId.toBase58(),
    accounts: ix.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]),
    data: Buffer.from(ix.data).toString("hex"),
  };
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const out = { quotes: (req.quotes || []).map(quote), ixs: [] };
  for (const c of req.ixs || []) out.ixs.push(await instruction(c));
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e));
  process.exit(1);
});
