import sharp from 'sharp';
import { chromaKey, keyDistance } from '../src/core/chroma-key.js';
const S=256;
const svg=`<svg xmlns="http://www.w3.org/2000/svg" width="${S}" height="${S}">
      <defs>
        <linearGradient id="sky" x1="0" y1="0" x2="0.3" y2="1">
          <stop offset="0%" stop-color="#1b2a6b"/>
          <stop offset="55%" stop-color="#c4507a"/>
          <stop offset="100%" stop-color="#ffb347"/>
        </linearGradient>
      </defs>
      <rect width="100%" height="100%" fill="url(#sky)"/>
      <ellipse cx="90" cy="260" rx="160" ry="70" fill="#2b1d2e"/>
    </svg>`;
const {data}=await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({resolveWithObject:true});
const r=chromaKey(data,S,S);
console.log(r.key, r.transparentShare, r.partialShare, r.borderTransparentShare, keyDistance(r.key,{r:128,g:128,b:128}));
