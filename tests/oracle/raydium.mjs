// Differential-test oracle for the Raydium AMM v4 and CPMM adapters.
// Reads one JSON document on stdin, answers one JSON document on stdout. Integers travel as
// decimal strings. Every answer comes from @raydium-io/raydium-sdk-v2 itself:
//   amm_v4_quotes  -> LiquidityModule.prototype.computeAmountOut (the v4 liquidity math)
//   cpmm_quotes    -> CurveCalculator.swapBaseInput
//   amm_v4_ix      -> makeAMMSwapV2Instruction (what liquidity.swap / tradeV2 build for v4 pools)
//   cpmm_ix        -> makeSwapCpmmBaseInInstruction (+ SDK PDA / ATA helpers)
//   amm_v4_layout, cpmm_pool_layout, cpmm_config_layout -> the SDK's account layouts
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const BN = require("bn.js");
const { PublicKey } = require("@solana/web3.js");
const sdk = require("@raydium-io/raydium-sdk-v2");
const LiquidityModule = require("@raydium-io/raydium-sdk-v2/lib/raydium/liquidity/liquidity.js").default;

const pk = (s) => new PublicKey(s);
const bn = (s) => new BN(String(s));

function ixJson(ix) {
  return {
    program_id: ix.programId.toBase58(),
    accounts: ix.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]),
    data: Buffer.from(ix.data).toString("hex"),
  };
}

function ammV4Quote(c) {
  const info = {
    mintA: { address: "A", decimals: 9 },
    mintB: { address: "B", decimals: 6 },
    baseReserve: bn(c.base_reserve),
    quoteReserve: bn(c.quote_reserve),
    version: 4,
  };
  const [mintIn, mintOut] = c.a_to_b ? ["A", "B"] : ["B", "A"];
  try {
    const r = LiquidityModule.prototype.computeAmountOut.call(
      {},
      { poolInfo: info, amountIn: bn(c.amount_in), mintIn, mintOut, slippage: 0 },
    );
    return { amount_out: r.amountOut.toString(), fee: r.fee.toString() };
  } catch (e) {
    return { error: String(e && e.message) };
  }
}

function cpmmQuote(c) {
  try {
    const r = sdk.CurveCalculator.swapBaseInput(
      bn(c.amount_in),
      bn(c.reserve_in),
      bn(c.reserve_out),
      bn(c.trade_fee_rate),
      bn(c.creator_fee_rate),
      bn(c.protocol_fee_rate),
      bn(c.fund_fee_rate),
      Boolean(c.creator_fee_on_input),
    );
    return {
      amount_out: r.outputAmount.toString(),
      trade_fee: r.tradeFee.toString(),
      creator_fee: r.creatorFee.toString(),
      protocol_fee: r.protocolFee.toString(),
      fund_fee: r.fundFee.toString(),
    };
  } catch (e) {
    return { error: String(e && e.message) };
  }
}

function ammV4Ix(c) {
  const programId = pk(c.program_id);
  const authority = sdk.getLiquidityAssociatedAuthority({ programId }).publicKey;
  const [mintIn, mintOut] = c.a_to_b ? [c.mint_a, c.mint_b] : [c.mint_b, c.mint_a];
  const owner = pk(c.user);
  const ix = sdk.makeAMMSwapV2Instruction({
    version: 4,
    poolKeys: { programId: c.program_id, id: c.pool, authority: authority.toBase58(), vault: { A: c.vault_a, B: c.vault_b } },
    userKeys: {
      tokenAccountIn: sdk.getATAAddress(owner, pk(mintIn)).publicKey,
      tokenAccountOut: sdk.getATAAddress(owner, pk(mintOut)).publicKey,
      owner,
    },
    amountIn: bn(c.amount_in),
    amountOut: bn(c.min_out),
    fixedSide: "in",
  });
  return ixJson(ix);
}

function cpmmIx(c) {
  const programId = pk(c.program_id);
  const owner = pk(c.user);
  const side = (m, v, p) => ({ mint: pk(m), vault: pk(v), program: pk(p) });
  const a = side(c.mint_a, c.vault_a, c.token_program_a);
  const b = side(c.mint_b, c.vault_b, c.token_program_b);
  const [i, o] = c.a_to_b ? [a, b] : [b, a];
  const ix = sdk.makeSwapCpmmBaseInInstruction(
    programId,
    owner,
    sdk.getPdaPoolAuthority(programId).publicKey,
    pk(c.amm_config),
    pk(c.pool),
    sdk.getATAAddress(owner, i.mint, i.program).publicKey,
    sdk.getATAAddress(owner, o.mint, o.program).publicKey,
    i.vault,
    o.vault,
    i.program,
    o.program,
    i.mint,
    o.mint,
    pk(c.observation),
    bn(c.amount_in),
    bn(c.min_out),
  );
  return ixJson(ix);
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

function decodeWith(layout) {
  return (c) => plain(layout.decode(Buffer.from(c.data_b64, "base64")));
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const res = {
  amm_v4_quotes: (req.amm_v4_quotes || []).map(ammV4Quote),
  cpmm_quotes: (req.cpmm_quotes || []).map(cpmmQuote),
  amm_v4_ix: (req.amm_v4_ix || []).map(ammV4Ix),
  cpmm_ix: (req.cpmm_ix || []).map(cpmmIx),
  amm_v4_layout: (req.amm_v4_layout || []).map(decodeWith(sdk.liquidityStateV4Layout)),
  cpmm_pool_layout: (req.cpmm_pool_layout || []).map(decodeWith(sdk.CpmmPoolInfoLayout)),
  cpmm_config_layout: (req.cpmm_config_layout || []).map(decodeWith(sdk.CpmmConfigInfoLayout)),
};
process.stdout.write(JSON.stringify(res));
