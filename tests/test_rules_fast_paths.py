"""The engine's own versions of library code on its hot path must give exactly the library's answer."""

from hypothesis import given, settings
from hypothesis import strategies as st

from rules import engine as engine_module

# Characters jieba's dictionary knows, ones it mostly does not (威, 吉 in odd places), digits and letters:
# runs of single characters are what goes to the HMM.
_CHARS = [*"威心顶吉排名地一主播微信的了是我们这个特供喝好吧家酒茶米鑫淼犇", *"ab1.%3x"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_CHARS), min_size=1, max_size=16).map("".join))
def test_hmm_word_sizes_are_jiebas_finalseg(buf):
    finalseg = engine_module._jieba().finalseg
    assert engine_module._hmm_word_sizes(buf, finalseg) == [len(w) for w in finalseg.cut(buf)]
