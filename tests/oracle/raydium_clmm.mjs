// Differential-test oracle for the Raydium CLMM adapter.
// Reads one JSON document on stdin, answers one JSON document on stdout (integers as decimal
// strings). Every answer comes from @raydium-io/raydium-sdk-v2 itself:
//   quotes  -> swapInternal (libraries/swapSimulator: the SDK's in-memory port of the program's
//              swap_internal) over PoolInfoLayout / ClmmConfigLayout / TickArrayLayout /
//              TickArrayBitmapExtensionLayout decodes of the bytes Python sends
//   ix      -> ClmmInstrument.makeSwapBaseInInstructions / makeSwapBaseOutInstructions (swap_v2),
//              with the SDK's own PDA
//              (getPdaTickArrayAddress, getPdaExBitmapAccount) and ATA helpers
//   layouts -> PoolInfoLayout / ClmmConfigLayout / TickArrayLayout field values
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const BN = require("bn.js");
const { PublicKey } = require("@solana/web3.js");
const sdk = require("@raydium-io/raydium-sdk-v2");

const pk = (s) => new PublicKey(s);
const bn = (s) => new BN(String(s));
const b64 = (s) => Buffer.from(s, "base64");

function tickArrayBytes(a) {
  // a.head: hex of the 44-byte header (discriminator, pool id, start index);
  // a.ticks: [[offset, hex of the 168-byte TickState]]; a.tail: hex of the trailing 116 bytes.
  const buf = Buffer.alloc(10240);
  Buffer.from(a.head, "hex").copy(buf, 0);
  for (const [off, hex] of a.ticks) Buffer.from(hex, "hex").copy(buf, 44 + off * 168);
  Buffer.from(a.tail, "hex").copy(buf, 44 + 60 * 168);
  return buf;
}

function quote(c) {
  try {
    const poolInfo = sdk.PoolInfoLayout.decode(b64(c.pool));
    const configInfo = sdk.ClmmConfigLayout.decode(b64(c.config));
    const ext = c.ext ? sdk.TickArrayBitmapExtensionLayout.decode(b64(c.ext)) : null;
    const tickArrays = c.arrays.map((a) => ({
      address: pk(a.address),
      value: sdk.TickArrayLayout.decode(tickArrayBytes(a)),
    }));
    const r = sdk.swapInternal({
      programId: pk(c.program_id),
      poolId: pk(c.pool_id),
      poolInfo,
      tickArrays,
      configInfo,
      tickarrayBitmapExtension: ext,
      amountSpecified: bn(c.amount),
      sqrtPriceLimitX64: bn(0),
      zeroForOne: Boolean(c.zero_for_one),
      isBaseInput: c.is_base_input !== false,
      blockTimestamp: c.block_timestamp,
      includeExtraTickArrays: false,
    });
    return {
      all_trade: r.allTrade,
      remaining: r.amountSpecifiedRemaining.toString(),
      amount_out: r.amountCalculated.toString(),
      fee: r.feeAmount.toString(),
      sqrt_price_x64: r.sqrtPriceX64.toString(),
      liquidity: r.liquidity.toString(),
      tick: r.tickCurrent,
    };
  } catch (e) {
    return { error: String(e && e.message) };
  }
}

function ixJson(ix) {
  return {
    program_id: ix.programId.toBase58(),
    accounts: ix.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]),
    data: Buffer.from(ix.data).toString("hex"),
  };
}

function swapIx(c) {
  const programId = pk(c.program_id);
  const poolId = pk(c.pool);
  const owner = pk(c.user);
  const ataA = sdk.getATAAddress(owner, pk(c.mint_a), pk(c.token_program_a)).publicKey;
  const ataB = sdk.getATAAddress(owner, pk(c.mint_b), pk(c.token_program_b)).publicKey;
  const arrays = c.tick_arrays.map((s) => sdk.getPdaTickArrayAddress(programId, poolId, s).publicKey);
  if (c.exact_out) {
    const { instructions } = sdk.ClmmInstrument.makeSwapBaseOutInstructions({
      poolInfo: {
        programId: c.program_id,
        id: c.pool,
        mintA: { address: c.mint_a },
        mintB: { address: c.mint_b },
        config: { id: c.amm_config },
      },
      poolKeys: { vault: { A: c.vault_a, B: c.vault_b } },
      observationId: pk(c.observation),
      ownerInfo: { wallet: owner, tokenAccountA: ataA, tokenAccountB: ataB },
      outputMint: pk(c.a_to_b ? c.mint_b : c.mint_a),
      amountOut: bn(c.amount_in),
      amountInMax: bn(c.min_out),
      sqrtPriceLimitX64: bn(c.sqrt_price_limit_x64 || 0),
      remainingAccounts: arrays,
    });
    return ixJson(instructions[0]);
  }
  const { instructions } = sdk.ClmmInstrument.makeSwapBaseInInstructions({
    poolInfo: {
      programId: c.program_id,
      id: c.pool,
      mintA: { address: c.mint_a },
      mintB: { address: c.mint_b },
      config: { id: c.amm_config },
    },
    poolKeys: { vault: { A: c.vault_a, B: c.vault_b } },
    observationId: pk(c.observation),
    ownerInfo: { wallet: owner, tokenAccountA: ataA, tokenAccountB: ataB },
    inputMint: pk(c.a_to_b ? c.mint_a : c.mint_b),
    amountIn: bn(c.amount_in),
    amountOutMin: bn(c.min_out),
    sqrtPriceLimitX64: bn(c.sqrt_price_limit_x64 || 0),
    remainingAccounts: arrays,
  });
  return ixJson(instructions[0]);
}

function plain(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v instanceof PublicKey) out[k] = v.toBase58();
    else if (BN.isBN(v)) out[k] = v.toString();
    else if (typeof v === "number" || typeof v === "boolean") out[k] = v;
  }
  return out;
}

function layout(c) {
  const data = b64(c.data);
  if (c.kind === "pool") {
    const d = sdk.PoolInfoLayout.decode(data);
    const out = plain(d);
    const words = Buffer.isBuffer(d.tickArrayBitmap)
      ? d.tickArrayBitmap
      : Buffer.concat(d.tickArrayBitmap.map((x) => new BN(x).toArrayLike(Buffer, "le", 8)));
    out.tickArrayBitmap = words.toString("hex");
    out.dynamicFeeInfo = d.dynamicFeeInfo;
    return out;
  }
  if (c.kind === "config") return plain(sdk.ClmmConfigLayout.decode(data));
  const d = sdk.TickArrayLayout.decode(data);
  const out = plain(d);
  out.ticks = d.ticks.map((t) => plain(t));
  return out;
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));
process.stdout.write(
  JSON.stringify({
    quotes: (req.quotes || []).map(quote),
    ix: (req.ix || []).map(swapIx),
    layouts: (req.layouts || []).map(layout),
  }),
);
