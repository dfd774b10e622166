import sharp from 'sharp';
import { chromaKey } from '../src/core/chroma-key.js';
const W=Number(process.argv[2]),H=Number(process.argv[3]);
const s=Math.min(W,H);
const svg=`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="100%" height="100%" fill="#04f008"/><circle cx="${W/2}" cy="${H/2}" r="${s*0.3}" fill="#c06040"/><text x="20" y="${H-30}" font-size="${s/16}" fill="#d01030">chroma key bench text</text></svg>`;
const {data}=await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({resolveWithObject:true});
for (const o of [{unmixEdges:false},{},{unmixEdges:false, despill:false}]) {
for(let i=0;i<5;i++) chromaKey(data,W,H,o);
const ts:number[]=[]; for(let i=0;i<15;i++){const t=performance.now(); chromaKey(data,W,H,o); ts.push(performance.now()-t);}
ts.sort((a,b)=>a-b); console.log(JSON.stringify(o), ts[7]!.toFixed(1));
}
