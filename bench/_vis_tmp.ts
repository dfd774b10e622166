import sharp from 'sharp';
import { chromaKey } from '../src/core/chroma-key.js';
const W=1024,H=1024,s=1024,cx=512,cy=512;
const strokes:string[]=[];
for (let i=0;i<40;i++){const a=(i/40)*Math.PI-Math.PI;strokes.push(`<line x1="${cx+Math.cos(a)*s*0.28}" y1="${cy+Math.sin(a)*s*0.28}" x2="${cx+Math.cos(a)*s*0.4}" y2="${cy+Math.sin(a)*s*0.4}" stroke="#5a3a22" stroke-width="1.7"/>`)}
const svg=`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><defs><radialGradient id="bg" cx="50%" cy="45%" r="75%"><stop offset="0%" stop-color="#08ff10"/><stop offset="100%" stop-color="#00e804"/></radialGradient><radialGradient id="body" cx="40%" cy="35%" r="70%"><stop offset="0%" stop-color="#f3d2b8"/><stop offset="60%" stop-color="#c98d6a"/><stop offset="100%" stop-color="#6e3f2a"/></radialGradient><filter id="blur"><feGaussianBlur stdDeviation="13"/></filter></defs>
<rect width="100%" height="100%" fill="url(#bg)"/><ellipse cx="${cx}" cy="${cy+s*0.36}" rx="${s*0.25}" ry="${s*0.04}" fill="#000" fill-opacity="0.35" filter="url(#blur)"/><circle cx="${cx}" cy="${cy}" r="${s*0.3}" fill="url(#body)"/><rect x="${cx-s*0.12}" y="${cy+s*0.05}" width="${s*0.24}" height="${s*0.25}" rx="30" fill="#2a4fb0"/>${strokes.join('')}<text x="50" y="970" font-family="sans-serif" font-size="64" fill="#d01030">chroma key bench</text></svg>`;
const grain=await sharp({create:{width:W,height:H,channels:3,background:'#808080',noise:{type:'gaussian',mean:128,sigma:40}}}).png().toBuffer();
const {data}=await sharp(Buffer.from(svg)).composite([{input:grain,blend:'soft-light'}]).ensureAlpha().raw().toBuffer({resolveWithObject:true});
await sharp(data,{raw:{width:W,height:H,channels:4}}).png().toFile('/tmp/in.png');
const opts = JSON.parse(process.argv[2] ?? '{}');
const r=chromaKey(data,W,H,opts);
console.log(r.key, r.transparentShare, r.partialShare, r.keyed);
const png=await sharp(r.rgba,{raw:{width:W,height:H,channels:4}}).png().toBuffer();
await sharp({create:{width:W,height:H,channels:4,background:'#ffffff'}}).composite([{input:png}]).png().toFile('/tmp/out_white.png');
const dk=await sharp({create:{width:W,height:H,channels:4,background:'#202020'}}).composite([{input:png}]).png().toBuffer(); await sharp(dk).extract({left:250,top:150,width:300,height:300}).resize(900,900,{kernel:'nearest'}).png().toFile('/tmp/out_dark_zoom.png');
