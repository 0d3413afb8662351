// Drives @solana/web3.js, unchanged, against a cluster: airdrop, balance, a signed System
// transfer confirmed over WebSocket (signatureSubscribe), account subscription. Prints JSON.
import {
  Connection, Keypair, LAMPORTS_PER_SOL, SystemProgram, Transaction, sendAndConfirmTransaction,
} from "@solana/web3.js";

const [rpcUrl, wsUrl] = process.argv.slice(2);
const conn = new Connection(rpcUrl, { commitment: "confirmed", wsEndpoint: wsUrl });
const payer = Keypair.generate();
const dest = Keypair.generate();
const out = {};

const airdropSig = await conn.requestAirdrop(payer.publicKey, 2 * LAMPORTS_PER_SOL);
const bh = await conn.getLatestBlockhash();
await conn.confirmTransaction({ signature: airdropSig, ...bh }, "confirmed");
out.balance_after_airdrop = await conn.getBalance(payer.publicKey);

const seen = new Promise((resolve) => {
  const id = conn.onAccountChange(dest.publicKey, (info, ctx) => {
    conn.removeAccountChangeListener(id);
    resolve({ lamports: info.lamports, slot: ctx.slot });
  }, "confirmed");
});
const tx = new Transaction().add(
  SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: dest.publicKey, lamports: 12345678 }),
);
out.transfer_signature = await sendAndConfirmTransaction(conn, tx, [payer], { commitment: "confirmed" });
out.dest_balance = await conn.getBalance(dest.publicKey);
out.payer_balance = await conn.getBalance(payer.publicKey);
out.notified = await Promise.race([seen, new Promise((r) => setTimeout(() => r(null), 5000))]);
out.slot = await conn.getSlot();
out.version = await conn.getVersion();
const parsed = await conn.getTransaction(out.transfer_signature, { maxSupportedTransactionVersion: 0 });
out.fee = parsed?.meta?.fee ?? null;
console.log(JSON.stringify(out));
process.exit(0);
