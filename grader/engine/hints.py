# ruff: noqa: E501  (Japanese message strings count double width; splitting them hurts reading)
"""Registry of targeted hints for known mistakes: hint id -> {ja, en}.

A hint is attached to a failed item only when ``grader/engine/diagnose.py`` found that the
student's output equals (within tolerance) what that specific mistake produces on the same
inputs; the wording therefore says what was observed, not a guess.
"""

from __future__ import annotations

from grader.engine.spec import Hint
from grader.engine.text import Bilingual

HINTS: dict[str, Bilingual] = {
    # --- generic patterns -------------------------------------------------------------------
    "batch_size_division": {
        "ja": "結果が正解のちょうど N 倍 (N = バッチサイズ) になっています。"
        "バッチ平均を取るための N での割り算を忘れていませんか。",
        "en": "The result is exactly N times the expected one (N = batch size). "
        "Did you forget to divide by the batch size?",
    },
    "extra_batch_division": {
        "ja": "結果が正解のちょうど 1/N (N = バッチサイズ) になっています。"
        "バッチサイズで二重に割っていませんか (損失レイヤーで割った後に再度割る等)。",
        "en": "The result is exactly 1/N of the expected one (N = batch size). "
        "Did you divide by the batch size twice (e.g. again after the loss layer)?",
    },
    "sign_flip": {
        "ja": "結果の符号が正解と逆になっています。微分の符号 (y - t と t - y 等) を確認してください。",
        "en": "The result has the opposite sign of the expected one. "
        "Check the sign of your derivative (y - t versus t - y, ...).",
    },
    "transposed": {
        "ja": "結果が正解の転置になっています。行列積の順序と転置 (X.T @ dY, dY @ W.T) を確認してください。",
        "en": "The result is the transpose of the expected one. Check the order of the matrix "
        "products and the transposes (X.T @ dY, dY @ W.T).",
    },
    "missing_factor_2": {
        "ja": "結果が正解のちょうど半分です。(・)^2 の微分で出てくる係数 2 を忘れていませんか。",
        "en": "The result is exactly half of the expected one. "
        "Did you drop the factor 2 from the derivative of a square?",
    },
    "missing_half_factor": {
        "ja": "結果が正解のちょうど 2 倍です。二乗誤差の定義にある 1/2 を忘れていませんか。",
        "en": "The result is exactly twice the expected one. "
        "Did you forget the 1/2 in the definition of the squared error?",
    },
    "row_vector_shape": {
        "ja": "値は正しいですが形が (1, D) になっています。(D,) が必要です "
        "(keepdims=True の平均や np.zeros((1, D)) で作った配列は (1, D) になります: axis=0 で "
        "keepdims なしに平均を取るか、np.zeros(D) で作ってください)。",
        "en": "The values are right but the shape is (1, D); (D,) is required (a mean with "
        "keepdims=True or np.zeros((1, D)) gives (1, D): take the mean over axis=0 without "
        "keepdims, or create it with np.zeros(D)).",
    },
    "dropout_mask_row": {
        "ja": "マスクの形が (1, D) になっています: バッチの全サンプルに同じマスクが掛かります。"
        "マスクは入力と同じ形 (N, D) で作ってください (np.random.rand(*x.shape))。",
        "en": "The mask has shape (1, D), so every sample of the batch gets the same mask. "
        "Draw the mask with the input's shape (N, D): np.random.rand(*x.shape).",
    },
    "bias_grad_not_summed": {
        "ja": "バイアスの勾配の形が (N, M) になっています。"
        "バイアスはバッチ全体で共有されるので、db は dout をバッチ方向 (axis=0) に足し合わせます。",
        "en": "The bias gradient has shape (N, M). The bias is shared by the whole batch, so db "
        "sums dout over the batch axis (axis=0).",
    },
    "affine_reshape": {
        "ja": "dx の形が入力 x の形と違います。forward で平坦化した x の元の形に dx を戻してください。",
        "en": "dx does not have the shape of the input x. Reshape dx back to the original "
        "shape of x that forward flattened.",
    },
    "argument_modified": {
        "ja": "関数が受け取った配列をその場で書き換えています (W[...] = ..., W *= ..., np.sign(W, out=W) 等)。"
        "この関数は結果を新しい配列で返し、引数は変更しない約束です (呼び出し側はその配列、"
        "例えばネットワークの重みを使い続けます)。計算は新しい配列 (W * 2, W.copy() 等) で行ってください。",
        "en": "The function writes into an array it was given (W[...] = ..., W *= ..., "
        "np.sign(W, out=W), ...). It must return its results as new arrays and leave its "
        "arguments unchanged: the caller keeps using them (the network's weights, say). "
        "Compute into new arrays (W * 2, W.copy(), ...).",
    },
    "layer_state_shared": {
        "ja": "backward が、同じクラスの別のインスタンスの forward の値を使っています "
        "(ネットワークでは同じ層が何個も使われます)。backward に必要な値 (mask, x, out 等) は "
        "クラス変数やグローバル変数ではなく、forward でそのインスタンスの属性 (self.mask = ...) に保存してください。",
        "en": "backward uses values from the forward pass of another instance of the same class "
        "(a network uses a layer class many times). Store what backward needs (mask, x, out, "
        "...) on the instance itself in forward (self.mask = ...), not on the class or in a "
        "global.",
    },
    "fix_upstream_first": {
        "ja": "この項目は前の項目で作った関数 (メッセージに項目名があります) を使っています。"
        "先にその項目を正しくすると、この項目もそのまま正しくなることがあります。",
        "en": "This item uses a function from an earlier item (named in the message). Fix that "
        "item first: this one may then be right as it stands.",
    },
    # --- exceptions explained from the inputs (diagnose.explain_exception) -----------------
    "target_one_hot": {
        "ja": "正解 t がワンホット表現 (N, K) のときに動いていません (t を添字に使うと、実数の (N, K) 配列では"
        "エラーになります)。ノートブックの約束では t はワンホットでもラベル (N,) でも受け付けます: "
        "t.ndim == 2 (t.size == y.size) なら t.argmax(axis=1) でラベルに直すか、(y - t) / N をそのまま使ってください。",
        "en": "The code fails when t is one-hot (N, K) (indexing with t breaks for a float (N, K) "
        "array). The notebook's interface accepts one-hot t as well as labels (N,): when "
        "t.ndim == 2 (t.size == y.size), convert with t.argmax(axis=1), or use (y - t) / N "
        "directly.",
    },
    "target_column": {
        "ja": "正解 t が (N, 1) の 0/1 の実数のときに動いていません。ノートブックの約束では x も t も (N, 1) です: "
        "t を添字に使わず、(y - t) / N や t * log(y) のように要素ごとに計算してください。",
        "en": "The code fails when t is an (N, 1) column of 0/1 floats. The notebook's interface "
        "gives x and t as (N, 1): compute element-wise ((y - t) / N, t * log(y)) instead of "
        "indexing with t.",
    },
    "target_labels": {
        "ja": "正解 t が整数ラベル (N,) のときに動いていません。ノートブックの約束では t はラベル (N,) でも"
        "ワンホット (N, K) でも受け付けます: ラベルなら y[np.arange(N), t] で正解クラスの値を取り出せます。",
        "en": "The code fails when t holds integer labels (N,). The notebook's interface accepts "
        "labels (N,) as well as one-hot (N, K): with labels, y[np.arange(N), t] picks each "
        "sample's true class.",
    },
    "input_dtype": {
        "ja": "配列の型 (dtype) でエラーになっています。整数の配列にその場で実数を書き込む (x -= ..., x /= ...) "
        "ことはできません: 新しい配列で計算するか、x.astype(np.float64) で実数に直してください。",
        "en": "The error is about an array's dtype. Floats cannot be written into an integer "
        "array in place (x -= ..., x /= ...): compute into a new array or convert with "
        "x.astype(np.float64).",
    },
    "input_rank": {
        "ja": "入力の次元数 (形) の扱いでエラーになっています。採点側はノートブックに書かれた形で呼び出します "
        "(例: Affine は (N, チャンネル, 高さ, 幅) のような (N, ...) 型、softmax は (K,) と (N, K))。"
        "x.reshape(x.shape[0], -1) や axis=-1 を使うと次元数によらずに書けます。",
        "en": "The error is about the input's number of dimensions. The grader calls your code "
        "with the shapes the notebook states (e.g. Affine takes (N, ...) such as (N, channels, "
        "height, width); softmax takes (K,) and (N, K)). x.reshape(x.shape[0], -1) and "
        "axis=-1 work whatever the rank.",
    },
    # --- activations and losses -------------------------------------------------------------
    "sigmoid_derivative": {
        "ja": "シグモイドの微分は y(1 - y) (y は順伝播の出力) です。dout * y や dout * (1 - y) ではありません。",
        "en": "The derivative of the sigmoid is y(1 - y) with y the forward output, "
        "not y or (1 - y) alone.",
    },
    "relu_mask": {
        "ja": "ReLU の逆伝播で通す/止める要素が逆になっています。x > 0 の要素だけ dout を通します。",
        "en": "The ReLU backward pass lets the wrong entries through: only entries with x > 0 "
        "pass dout on.",
    },
    "softmax_overflow": {
        "ja": "大きな入力 (~1e3) で NaN / inf が出ています。exp の前に各行の最大値を引いてください "
        "(softmax の値は変わりません)。",
        "en": "Large inputs (~1e3) give NaN / inf. Subtract each row's maximum before exp "
        "(this leaves the softmax unchanged).",
    },
    "softmax_1d": {
        "ja": "softmax は 1 次元の入力 (K,) (1 個のデータ) でも動く約束です。axis=1 ではなく axis=-1 "
        "(keepdims=True) で最大値と和を取ると、(K,) でも (N, K) でも同じコードで書けます。",
        "en": "softmax must also take a 1-D input (K,) (one sample). Take the max and the sum "
        "over axis=-1 with keepdims=True instead of axis=1: the same code then works for (K,) "
        "and (N, K).",
    },
    "softmax_axis": {
        "ja": "softmax が行ではなく列 (バッチ方向) で正規化されています。各行 (サンプル) の和が 1 になるように "
        "axis=-1 (keepdims=True) で和を取ってください。",
        "en": "The softmax is normalised over columns (the batch) instead of rows. Sum over "
        "axis=-1 with keepdims=True so that each row (sample) sums to 1.",
    },
    "label_format": {
        "ja": "正解ラベルの形式 (整数ラベル / one-hot) の扱いが違います。t が one-hot の場合と "
        "整数ラベル (形 (N,)) の場合の両方で正しく動くようにしてください。",
        "en": "Integer labels and one-hot labels are confused. Make the code work both for "
        "one-hot t and for integer labels of shape (N,).",
    },
    # --- batch normalisation ----------------------------------------------------------------
    "bn_backward_missing_mean_terms": {
        "ja": "BatchNorm の逆伝播で、平均と分散を通る経路の項が抜けています "
        "(dx = gamma * dout / std だけになっています)。μ と σ² も x に依存することを計算グラフで確かめてください。",
        "en": "The BatchNorm backward pass misses the terms through the batch mean and "
        "variance (it is just gamma * dout / std). Mean and variance depend on x too.",
    },
    "bn_backward_missing_var_term": {
        "ja": "BatchNorm の逆伝播で、分散を通る経路の項が抜けています (平均の項だけ引いています)。",
        "en": "The BatchNorm backward pass misses the term through the batch variance "
        "(only the mean term is subtracted).",
    },
    "bn_running_momentum_swapped": {
        "ja": "移動平均の係数が逆です: running = momentum * running + (1 - momentum) * batch です。",
        "en": "The running-average weights are swapped: "
        "running = momentum * running + (1 - momentum) * batch.",
    },
    "bn_running_var_unbiased": {
        "ja": "バッチの分散は N で割る分散 (np.var の既定, ddof=0) を使ってください。N-1 で割る不偏分散ではありません。",
        "en": "Use the batch variance divided by N (numpy's default ddof=0), "
        "not the unbiased N-1 version.",
    },
    "bn_running_init_first_batch": {
        "ja": "running_mean / running_var を最初のバッチの平均・分散で初期化しています。"
        "この課題では 0 から始め (running_mean=None のときは np.zeros(D))、最初のバッチでも "
        "running = momentum * running + (1 - momentum) * batch で更新します。",
        "en": "running_mean / running_var are initialised from the first batch's statistics. "
        "This assignment starts them at zero (np.zeros(D) when running_mean is None) and "
        "applies running = momentum * running + (1 - momentum) * batch from the first batch on.",
    },
    "bn_running_not_updated": {
        "ja": "学習モードの forward で running_mean / running_var が更新されていません。",
        "en": "running_mean / running_var are not updated by the training-mode forward pass.",
    },
    # --- initialisation ---------------------------------------------------------------------
    "he_std_n_in": {
        "ja": "標準偏差が sqrt(1/n_in) になっています。He の初期値は sqrt(2/n_in) です (ReLU が半分を 0 にするため 2 倍)。",
        "en": "The standard deviation is sqrt(1/n_in). He initialisation uses sqrt(2/n_in) "
        "(ReLU zeroes half of the inputs, hence the 2).",
    },
    "std_vs_variance": {
        "ja": "分散と標準偏差を取り違えています。np.random.randn に掛けるのは分散の平方根 (標準偏差) です。",
        "en": "Variance and standard deviation are mixed up: multiply np.random.randn by the "
        "square root of the variance.",
    },
    "glorot_n_in_only": {
        "ja": "Glorot の初期値は n_in と n_out の両方を使います (分散 2/(n_in + n_out))。",
        "en": "Glorot initialisation uses both n_in and n_out (variance 2/(n_in + n_out)).",
    },
    "glorot_uniform_bound": {
        "ja": "一様分布の範囲が違います。Glorot 一様は U(-sqrt(6/(n_in+n_out)), +sqrt(6/(n_in+n_out))) です。",
        "en": "The range of the uniform distribution is wrong. Glorot uniform is "
        "U(-sqrt(6/(n_in+n_out)), +sqrt(6/(n_in+n_out))).",
    },
    "wrong_distribution": {
        "ja": "分布の形が違います (正規分布と一様分布を取り違えていませんか)。"
        "np.random.randn は正規分布、np.random.uniform は一様分布です。",
        "en": "The shape of the distribution is wrong (normal and uniform mixed up?). "
        "np.random.randn is normal, np.random.uniform is uniform.",
    },
    # --- dropout ----------------------------------------------------------------------------
    "dropout_mask_resampled": {
        "ja": "backward で新しいマスクを作っています。forward で作って保存したマスク (self.mask) をそのまま使ってください。",
        "en": "backward draws a new mask. Reuse the mask that forward drew and stored (self.mask).",
    },
    "dropout_inverted_scaling": {
        "ja": "学習時に 1/(1 - p) 倍する inverted dropout になっています。この講義の約束では学習時はマスクを掛けるだけで、"
        "推論時に (1 - dropout_ratio) 倍します。",
        "en": "This is inverted dropout (scaling by 1/(1-p) during training). The course's "
        "convention multiplies by the mask only in training and by (1 - dropout_ratio) at "
        "inference.",
    },
    "dropout_no_inference_scaling": {
        "ja": "推論時 (train_flg=False) に出力を (1 - dropout_ratio) 倍していません。",
        "en": "At inference (train_flg=False) the output is not multiplied by (1 - dropout_ratio).",
    },
    "dropout_inference_scaled_by_ratio": {
        "ja": "推論時の出力が dropout_ratio 倍になっています (学習時のマスクは正しく、残る割合は 1 - dropout_ratio です)。"
        "推論時は残る割合 (1 - dropout_ratio) を掛けてください。",
        "en": "At inference the output is multiplied by dropout_ratio (the training mask is "
        "right: it keeps 1 - dropout_ratio of the units). Multiply by the kept fraction "
        "(1 - dropout_ratio) at inference.",
    },
    "dropout_ratio_swapped": {
        "ja": "マスクで残る割合が逆です。dropout_ratio は「消す」割合です: mask = rand > dropout_ratio。",
        "en": "The kept fraction is swapped. dropout_ratio is the fraction dropped: "
        "mask = rand > dropout_ratio.",
    },
    # --- optimisers -------------------------------------------------------------------------
    "adam_no_bias_correction": {
        "ja": "Adam のバイアス補正がありません。lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t) を使ってください "
        "(t は update の呼び出し回数)。",
        "en": "Adam lacks the bias correction. Use lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t) "
        "(t counts the calls of update).",
    },
    "adam_step_from_2": {
        "ja": "Adam のステップ数 t が 2 から始まっています (初期値 1 のまま先に 1 足している等)。"
        "t は最初の update で 1 になるように、0 で初期化して update の最初に 1 足してください。",
        "en": "Adam's step counter t starts at 2 (initialised to 1 and incremented before use?). "
        "t must be 1 at the first update: initialise it to 0 and add 1 at the start of update.",
    },
    "adam_step_not_incremented": {
        "ja": "Adam のステップ数 t が増えていません (毎回 t = 1 のバイアス補正になっています)。"
        "update のたびに self.iter += 1 のように t を 1 増やしてください。",
        "en": "Adam's step counter t is never incremented (every update uses the t = 1 bias "
        "correction). Add 1 to it at every update (self.iter += 1).",
    },
    "nesterov_as_momentum": {
        "ja": "Nesterov が普通の Momentum と同じ更新になっています。先読みの項を確認してください。",
        "en": "Nesterov gives the same updates as plain Momentum. Check the look-ahead term.",
    },
    "nesterov_textbook_form": {
        "ja": "よく出回っている教科書のコード (params += m*m*v - (1+m)*lr*grad を v の更新後に行う形) になっています。"
        "この課題の形は v <- m*v - lr*grad の後に params += m*v - lr*grad です (Alg. 8.3 と同値)。",
        "en": "This is the widely copied textbook code (params += m*m*v - (1+m)*lr*grad after "
        "updating v). This assignment uses v <- m*v - lr*grad, then params += m*v - lr*grad "
        "(equivalent to Alg. 8.3).",
    },
    "rmsprop_decay_swapped": {
        "ja": "RMSProp の移動平均の係数が逆です: h = decay_rate * h + (1 - decay_rate) * grad^2 です。",
        "en": "RMSProp's averaging weights are swapped: "
        "h = decay_rate * h + (1 - decay_rate) * grad^2.",
    },
    "state_not_kept": {
        "ja": "update の呼び出しをまたいで状態 (速度 v や累積 h) が保持されていません。"
        "最初の呼び出しでだけ初期化し、インスタンスの属性として持ち続けてください。",
        "en": "The state (velocity v, accumulator h) is not kept across calls of update. "
        "Initialise it on the first call only and keep it as an attribute.",
    },
    # --- regularisation ---------------------------------------------------------------------
    "l2_missing_factor_2": {
        "ja": "L2 正則化の勾配は 2 * alpha * W です (alpha * sum(W**2) の微分)。係数 2 が抜けています。",
        "en": "The L2 gradient is 2 * alpha * W (the derivative of alpha * sum(W**2)); "
        "the factor 2 is missing.",
    },
    "l2_half_convention": {
        "ja": "ペナルティが 0.5 * alpha * sum(W**2) (勾配 alpha * W) になっています (教科書によくある約束です)。"
        "この課題では alpha * sum(W**2) で、勾配はその微分 2 * alpha * W です (alpha * W → 2 * alpha * W)。",
        "en": "The penalty is 0.5 * alpha * sum(W**2) with gradient alpha * W (a common textbook "
        "convention). This assignment uses alpha * sum(W**2), whose gradient is 2 * alpha * W "
        "(alpha * W -> 2 * alpha * W).",
    },
    "l1_gradient_sign": {
        "ja": "L1 正則化の勾配は alpha * sign(W) です (|W| の微分は符号)。",
        "en": "The L1 gradient is alpha * sign(W) (the derivative of |W| is its sign).",
    },
    "bias_regularized": {
        "ja": "バイアスにも正則化が掛かっています。正則化するのは重み (W) だけです。",
        "en": "The biases are regularised too; only the weights (W) should be.",
    },
    # --- training ---------------------------------------------------------------------------
    "accuracy_low": {
        "ja": "精度が基準に届いていません。学習率・エポック数・初期値を見直し、BatchNorm や Dropout を使う場合は "
        "predict を推論モード (train_flg=False) で動かしてください。",
        "en": "The accuracy is below the threshold. Revisit the learning rate, the number of "
        "epochs and the initialisation; with BatchNorm or Dropout, predict in inference mode "
        "(train_flg=False).",
    },
    "predictions_constant": {
        "ja": "ほぼ全ての入力に同じクラスを予測しています。学習が進んでいない (学習率が大きすぎる/小さすぎる) 可能性があります。",
        "en": "Nearly every input gets the same class: training probably did not progress "
        "(learning rate too large or too small?).",
    },
    "mnist_provenance": {
        "ja": "採点では network.layers の各層 (Affine, Relu, Sigmoid, Tanh, BatchNormalization, Dropout) の "
        "パラメータから予測を計算し直し、network.predict の結果と照合します。predict は推論モード "
        "(train_flg=False: BatchNorm は running_mean / running_var、Dropout は縮小のみ) で、"
        "network.layers の層を順に通した結果だけを返すようにしてください。",
        "en": "The grader recomputes the predictions from the parameters of the layers in "
        "network.layers (Affine, Relu, Sigmoid, Tanh, BatchNormalization, Dropout) and compares "
        "them with network.predict. Make predict return just the result of passing x through "
        "those layers in order, in inference mode (train_flg=False: BatchNorm uses running_mean "
        "/ running_var, Dropout only scales).",
    },
    "bn_predict_train_mode": {
        "ja": "predict(x, train_flg=False) が BatchNormalization.forward に train_flg を渡しているか"
        "確かめてください。推論では学習中に更新した running_mean / running_var で正規化します。"
        "テスト画像のミニバッチの統計を使うと、同じ画像でもバッチの組み方で予測が変わります。",
        "en": "Check that predict(x, train_flg=False) passes train_flg on to "
        "BatchNormalization.forward. At inference BN normalises with the running_mean / "
        "running_var updated during training; with each test batch's own statistics the "
        "prediction for an image depends on which other images share its batch.",
    },
}


def get_hint(hint_id: str) -> Hint:
    """The :class:`Hint` registered under ``hint_id`` (``KeyError`` names the unknown id)."""
    try:
        text = HINTS[hint_id]
    except KeyError:
        raise KeyError(f"unknown hint id {hint_id!r}; known: {sorted(HINTS)}") from None
    return Hint(id=hint_id, ja=text["ja"], en=text["en"])


__all__ = ["HINTS", "get_hint"]
