import sharp from 'sharp';
import { chromaKey } from '../src/core/chroma-key.js';
const W=Number(process.argv[2]),H=Number(process.argv[3]); const o=JSON.parse(process.argv[4]!);
const s=Math.min(W,H);
const svg=`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="100%" height="100%" fill="#04f008"/><circle cx="${W/2}" cy="${H/2}" r="${s*0.3}" fill="#c06040"/><text x="20" y="${H-30}" font-size="${s/16}" fill="#d01030">chroma key bench text</text></svg>`;
const {data}=await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({resolveWithObject:true});
const ts:number[]=[]; for(let i=0;i<20;i++){const t=performance.now(); chromaKey(data,W,H,o); ts.push(performance.now()-t);}
console.log(JSON.stringify(o), ts.map(x=>x.toFixed(0)).join(' '));
