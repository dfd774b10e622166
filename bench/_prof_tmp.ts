import sharp from 'sharp';
import { chromaKey } from '../src/core/chroma-key.js';
const W=3824,H=2160;
const svg=`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="100%" height="100%" fill="#00ff00"/><circle cx="1900" cy="1080" r="700" fill="#c06040"/></svg>`;
const {data}=await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({resolveWithObject:true});
const o = JSON.parse(process.argv[2] ?? '{}');
for(let i=0;i<3;i++) chromaKey(data,W,H,o);
const ts:number[]=[]; for(let i=0;i<9;i++){const t=performance.now(); chromaKey(data,W,H,o); ts.push(performance.now()-t);}
ts.sort((a,b)=>a-b); console.log(JSON.stringify(o), ts.map(x=>x.toFixed(0)).join(' '));
