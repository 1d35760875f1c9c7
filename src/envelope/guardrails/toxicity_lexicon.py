"""The toxicity filter's word lists, written for Envelope and released under CC0-1.0.

Weights are judgement calls on one scale: 0.75 and above is severe on its own (slurs,
self-harm encouragement, explicit threats); 0.4–0.6 is a clear insult or obscenity
that tips over the 0.5 threshold when aimed at the reader or combined with another;
under 0.3 is everyday profanity or a word with common innocent senses ("cock",
"bitch" for a dog, "cum laude"). Terms are written as the normaliser produces them:
lower case, apostrophes dropped ("youre"), chat-speak expanded ("u" → "you").
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


CATEGORIES = ("insult", "profanity", "threat", "identity_hate", "sexual", "self_harm_encouragement")

# One root per line: "category weight: spelling, spelling, ...". Spellings of a root
# (inflections, compounds) count once per text; an entry with spaces is a phrase.
LEXICON = """
insult 0.75: cunt, cunts
insult 0.65: motherfucker, motherfuckers, motherfucking, mofo
insult 0.65: cocksucker, cocksuckers
insult 0.6: dumbfuck, fuckface, fuckwit, fuckhead
insult 0.5: fucker, fuckers
insult 0.55: dickhead, dickheads, shithead, shitheads, dipshit, dipshits, shitstain
insult 0.5: asshole, assholes, arsehole, arseholes
insult 0.5: scumbag, scumbags
insult 0.5: twat, twats
insult 0.5: wanker, wankers
insult 0.45: bitch, bitches, bitchy
insult 0.5: skank, skanks, skanky
insult 0.55: slut, sluts, slutty
insult 0.6: whore, whores
insult 0.45: douchebag, douchebags, douche, douches
insult 0.45: imbecile, imbeciles
insult 0.45: cretin, cretins
insult 0.45: dumbass, dumbasses
insult 0.4: idiot, idiots, idiotic
insult 0.4: moron, morons, moronic
insult 0.4: jackass, jackasses
insult 0.4: bastard, bastards
insult 0.4: halfwit, halfwits
insult 0.4: scum
insult 0.35: dimwit, dimwits, braindead
insult 0.35: prick, pricks
insult 0.35: pervert, perverts
insult 0.35: degenerate, degenerates
insult 0.3: nitwit, numbskull, bonehead, pinhead, airhead
insult 0.3: smartass
insult 0.3: worthless
insult 0.25: loser, losers
insult 0.25: freak, freaks
insult 0.2: stupid, stupidest
insult 0.2: pathetic
insult 0.2: jerk, jerks
insult 0.2: creep, creepy
insult 0.2: disgrace
insult 0.15: dumb, dumber, dumbest
insult 0.15: ugly
insult 0.15: clown, clowns
insult 0.15: troll
insult 0.15: fool, fools
insult 0.1: useless
insult 0.1: failure
insult 0.7: shut the fuck up, stfu
insult 0.65: fuck you, fuck yourself, fuck your, go fuck yourself
insult 0.6: fuck off
insult 0.6: eat shit
insult 0.6: piece of shit, sack of shit, shit for brains
insult 0.55: son of a bitch
insult 0.55: waste of oxygen, waste of space, waste of air
insult 0.5: kiss my ass
insult 0.5: little shit
insult 0.45: gtfo, piss off, screw you, go to hell
insult 0.45: nobody likes you, nobody wants you
insult 0.45: piece of crap
insult 0.35: damn you
insult 0.3: shut up, shut your mouth
profanity 0.3: fuck, fucks, fucked, fucking, fuckin, fuckery, fuckup
profanity 0.25: shit, shits, shitty, shitting, shite, bullshit
profanity 0.25: ass, asses, arse
profanity 0.2: wtf, omfg
profanity 0.15: goddamn, goddamned, goddammit
profanity 0.15: piss, pissed, pissing
profanity 0.15: bollocks, bugger
profanity 0.1: crap, crappy
profanity 0.1: badass
profanity 0.08: damn, damned, dammit
threat 0.85: put a bullet in, bullet in your head, slit your throat
threat 0.8: i know where you live
threat 0.7: you are dead meat, dead meat
threat 0.6: deserve to die, deserve to be shot, deserve to be killed, deserve to be raped, deserve to suffer
threat 0.55: wish you were never born
threat 0.45: watch your back
threat 0.45: hope you get raped, hope you choke
threat 0.35: make you pay
threat 0.3: you will regret this, you will regret it
threat 0.35: rape, raped, rapist, rapists
self_harm_encouragement 0.95: kill yourself, kill yourselves, kys, go kill yourself, neck yourself, off yourself
self_harm_encouragement 0.9: hang yourself, slit your wrists, end your life, end your own life
self_harm_encouragement 0.85: hope you die, you should die, die in a fire, die in a ditch, go die, just die
self_harm_encouragement 0.85: get cancer and die, drop dead
self_harm_encouragement 0.75: nobody would miss you, nobody will miss you, better off without you
self_harm_encouragement 0.6: drink bleach, jump off a bridge
self_harm_encouragement 0.4: just end it, end it all
identity_hate 0.95: nigger, niggers
identity_hate 0.9: faggot, faggots
identity_hate 0.9: kike, kikes
identity_hate 0.85: chink, chinks
identity_hate 0.85: spic, spics
identity_hate 0.85: wetback, wetbacks
identity_hate 0.85: gook, gooks
identity_hate 0.85: raghead, ragheads, towelhead, towelheads
identity_hate 0.75: tranny, trannies
identity_hate 0.75: beaner, beaners
identity_hate 0.75: paki, pakis
identity_hate 0.7: fag, fags
identity_hate 0.6: dyke, dykes
identity_hate 0.55: retard, retards, retarded
identity_hate 0.5: coon, coons
identity_hate 0.45: nigga, niggas
identity_hate 0.4: subhuman, untermensch
identity_hate 0.45: go back to your country, go back to your own country, go back to where you came from
sexual 0.7: suck my dick, suck my cock, sit on my dick, sit on my face
sexual 0.6: send nudes, send me nudes, show me your tits
sexual 0.5: blowjob, blowjobs, handjob, handjobs
sexual 0.45: jizz, jerk off, jack off
sexual 0.4: titties, tit, tits
sexual 0.35: pussy, pussies
sexual 0.35: hooker, hookers
sexual 0.35: dildo, dildos
sexual 0.3: cock, cocks
sexual 0.3: dick, dicks
sexual 0.3: cum, cumming
sexual 0.3: horny
sexual 0.3: nudes
sexual 0.2: porn, porno
sexual 0.2: boobs
"""

# Innocent phrases that contain a listed word; their tokens are never matched.
ALLOWED = (
    "magna cum laude",
    "summa cum laude",
    "cum laude",
    "spic and span",
    "chink in the armour",
    "chink in the armor",
    "chink in his armour",
    "chink in his armor",
    "chink in her armour",
    "chink in her armor",
)

# Words that may stand between "you"/"your" and an insult without breaking the aim:
# "you are such a total idiot", "you lying bastard".
FILLERS = frozenset(
    _words(
        "are were is r a an such so total complete absolute utter fucking fuckin little big the biggest "
        "just really truly genuinely literally honestly seriously being stupid dumb pathetic worthless "
        "useless ugly fat lying dirty filthy annoying sad sorry dumbest stupidest brainless clueless "
        "miserable disgusting goddamn damn"
    )
)

# Contractions, split at the apostrophe: "i'll" → "i will" (without it, "ill" is a word).
CONTRACTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"n't": ("not",), "'ll": ("will",), "'re": ("are",), "'d": ("would",), "'m": ("am",), "'ve": ("have",), "'s": ()}
)
NEGATIVE_STEMS: Mapping[str, str] = MappingProxyType({"won": "will", "ca": "can", "sha": "shall"})

# Chat-speak and contractions typed without the apostrophe, expanded before phrases are matched.
CHAT_SPEAK: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "u": ("you",),
        "ya": ("you",),
        "ur": ("your",),
        "urself": ("yourself",),
        "youre": ("you", "are"),
        "yall": ("you", "all"),
        "im": ("i", "am"),
        "ive": ("i", "have"),
        "imma": ("i", "am", "going", "to"),
        "ima": ("i", "am", "going", "to"),
        "gonna": ("going", "to"),
        "wanna": ("want", "to"),
        "gotta": ("got", "to"),
        "wont": ("will", "not"),
        "dont": ("do", "not"),
        "cant": ("can", "not"),
        "youll": ("you", "will"),
        "theyre": ("they", "are"),
    }
)

# Threats: "<subject> <modal> ... <verb> you" or "... <verb> your <target>".
THREAT_SUBJECTS = frozenset({"i", "we", "someone", "somebody"})
THREAT_SUBJECT_MODALS = frozenset({"ill", "id"})  # "ill kill you": "i'll" typed without its apostrophe
THREAT_MODALS = frozenset({"will", "would", "shall", "should", "am", "are", "want", "could", "must", "need", "swear"})
THREAT_NEGATIONS = frozenset({"not", "never", "no", "nobody", "nothing"})
THREAT_VERBS: Mapping[str, float] = MappingProxyType(
    {
        "kill": 0.85,
        "murder": 0.85,
        "stab": 0.85,
        "shoot": 0.85,
        "strangle": 0.85,
        "rape": 0.9,
        "behead": 0.9,
        "torture": 0.85,
        "burn": 0.7,
        "slit": 0.85,
        "gut": 0.7,
        "hurt": 0.65,
        "beat": 0.65,
        "punch": 0.6,
        "slap": 0.6,
        "choke": 0.7,
        "smash": 0.55,
        "break": 0.55,
        "bury": 0.55,
        "end": 0.55,
    }
)
THREAT_TARGETS = frozenset(
    _words(
        "family kids children child wife husband mother mom mum dad father sister brother son daughter "
        "dog cat house home car throat neck face head skull legs arms fingers teeth"
    )
)
# "shoot you a message", "beat you to it", "kill you at chess" are not threats.
THREAT_EXCLUSIONS = frozenset({"a", "an", "up", "at", "to", "over", "some", "with", "down", "off"})

# Dehumanising statements about a group: "<group> are (all) <predicate>".
GROUPS = _words(
    "immigrants migrants refugees foreigners muslims jews christians hindus sikhs blacks whites asians "
    "chinese mexicans arabs africans indians latinos hispanics gays lesbians trannies women girls "
    "gypsies roma homosexuals"
)
GROUP_PEOPLE = _words("black white gay trans transgender disabled jewish muslim asian brown")
GROUP_COPULAS = ("are", "are all", "are just", "are nothing but", "are like", "should all be", "should be")
HATE_PREDICATES = (
    *_words("animals vermin rats cockroaches parasites subhuman savages inferior filth scum disgusting terrorists"),
    *_words("criminals rapists freaks trash apes monkeys pigs dogs evil exterminated gassed killed shot"),
    *("a disease", "a plague", "a cancer", "a burden", "mentally ill", "not human", "put down", "wiped out"),
)
GROUP_DOOM = ("kill all", "kill all the", "death to", "death to all", "gas the", "exterminate the", "exterminate all")
