import sharp from 'sharp';
import { chromaKey } from '../src/core/chroma-key.js';
const S=256;
const circ=(bg:string, fill:string)=>`<svg xmlns="http://www.w3.org/2000/svg" width="${S}" height="${S}">${bg?`<rect width="100%" height="100%" fill="${bg}"/>`:''}<circle cx="128" cy="128" r="80" fill="${fill}"/></svg>`;
async function raw(svg:string){const {data}=await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({resolveWithObject:true}); return new Uint8Array(data);}
for (const [bg,fill] of [['#00ff00','#d02020'],['#00ff00','#2040d0'],['#00ff00','#808080'],['#00ff00','#f0f0f0'],['#00ff00','#101010'],['#00ff00','#90c030'],['#ff00ff','#30a040']]) {
  const img=await raw(circ(bg!,fill!)); const cov=await raw(circ('',fill!));
  for (const unmix of [false,true]) {
    const r=chromaKey(img,S,S,{unmixEdges:unmix});
    let err=0,n=0,maxe=0,part=0;
    for(let i=3;i<img.length;i+=4){const c=cov[i]!; if(c>0&&c<255){const e=Math.abs(r.rgba[i]!-c); err+=e;n++; if(e>maxe)maxe=e; if(r.rgba[i]!>0&&r.rgba[i]!<255)part++;}}
    console.log(bg,fill,'unmix',unmix,'ring',n,'partial',part,'meanErr',(err/n).toFixed(1),'max',maxe);
  }
}
